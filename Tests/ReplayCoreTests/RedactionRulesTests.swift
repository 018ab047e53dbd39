import Foundation
import Testing
@testable import ReplayCore

@Suite("Redaction rules")
struct RedactionRulesTests {
    static let chunkSizes = [0, 1, 2, 3, 7]

    /// Checks one client script for every chunking: the client stream is the original with
    /// exactly `secrets` replaced, the server stream untouched, chunk sizes kept, and the rules named.
    func check(_ proto: WireProtocol, client: [String], server: [String] = [], secrets: [String], rules: [String],
               serverSecrets: [String] = []) {
        for chunk in Self.chunkSizes {
            var steps: [(Direction, String)] = []
            for (index, line) in client.enumerated() {
                steps.append((.clientToServer, line))
                if index < server.count { steps.append((.serverToClient, server[index])) }
            }
            let run = RedactionRun.run(proto, steps, chunk: chunk)
            let clientText = client.joined()
            let serverText = server.joined()
            #expect(run.stream(.clientToServer) == RedactionRun.expected(clientText, secrets: secrets), "chunk \(chunk)")
            #expect(run.stream(.serverToClient) == RedactionRun.expected(serverText, secrets: serverSecrets), "chunk \(chunk)")
            #expect(run.markers.map(\.rule) == rules, "chunk \(chunk)")
            for secret in secrets + serverSecrets { #expect(!contains(run.stream(.clientToServer) + run.stream(.serverToClient), secret)) }
            if chunk > 0 {
                #expect(run.chunks(.clientToServer).allSatisfy { $0.count <= chunk })
                #expect(run.chunks(.clientToServer).count == client.reduce(0) { $0 + ($1.utf8.count + chunk - 1) / chunk })
            }
            // Markers point at placeholder bytes only.
            let stream = run.stream(.clientToServer)
            for marker in run.markers where marker.direction == .clientToServer {
                #expect(marker.offset + marker.length <= stream.count)
                if marker.offset + marker.length <= stream.count {
                    #expect(stream[marker.offset..<(marker.offset + marker.length)].allSatisfy { $0 == UInt8(ascii: "*") })
                }
            }
        }
    }

    static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test func smtpAuthPlainInitialResponse() {
        let blob = Self.b64("\0alice\0s3cret-pw")
        check(.smtp, client: ["EHLO me\r\n", "AUTH PLAIN \(blob)\r\n", "QUIT\r\n"],
              server: ["250 ok\r\n", "235 ok\r\n", "221 bye\r\n"], secrets: [blob], rules: ["smtp-auth-plain"])
    }

    @Test func smtpAuthPlainContinuation() {
        let blob = Self.b64("\0alice\0s3cret-pw")
        check(.smtp, client: ["AUTH PLAIN\r\n", "\(blob)\r\n", "MAIL FROM:<a@b>\r\n"],
              server: ["334 \r\n", "235 ok\r\n", "250 ok\r\n"], secrets: [blob], rules: ["smtp-auth-plain"])
    }

    @Test func smtpAuthLoginKeepsUserName() {
        let user = Self.b64("alice"), password = Self.b64("s3cret-pw")
        for chunk in Self.chunkSizes {
            let run = RedactionRun.run(.smtp, [(.clientToServer, "AUTH LOGIN\r\n"), (.serverToClient, "334 VXNlcm5hbWU6\r\n"),
                                               (.clientToServer, "\(user)\r\n"), (.serverToClient, "334 UGFzc3dvcmQ6\r\n"),
                                               (.clientToServer, "\(password)\r\n"), (.serverToClient, "235 ok\r\n")], chunk: chunk)
            #expect(contains(run.stream(.clientToServer), "AUTH LOGIN\r\n\(user)\r\n"))
            #expect(!contains(run.stream(.clientToServer), password))
            #expect(run.markers.map(\.rule) == ["smtp-auth-login"])
        }
        check(.smtp, client: ["AUTH LOGIN \(user)\r\n", "\(password)\r\n"], server: ["334 UGFzc3dvcmQ6\r\n", "235 ok\r\n"],
              secrets: [password], rules: ["smtp-auth-login"])
    }

    @Test func smtpBodyIsNotSearched() {
        check(.smtp, client: ["DATA\r\n", "AUTH PLAIN notasecret\r\n.\r\n", "AUTH PLAIN realsecret\r\n"],
              server: ["354 go\r\n", "250 ok\r\n"], secrets: ["realsecret"], rules: ["smtp-auth-plain"])
    }

    @Test func pop3PassAndApop() {
        check(.pop3, client: ["USER alice\r\n", "PASS pass word\r\n"], server: ["+OK\r\n", "+OK\r\n"],
              secrets: ["pass word"], rules: ["pop3-pass"])
        check(.pop3, client: ["APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n"], secrets: ["c4c9334bac560ecc979e58001b3e22fb"], rules: ["pop3-apop"])
    }

    @Test func imapLoginForms() {
        check(.imap, client: ["a1 LOGIN alice s3cret\r\n"], secrets: ["s3cret"], rules: ["imap-login"])
        check(.imap, client: ["a1 login \"alice\" \"s3 cret\"\r\n"], secrets: ["s3 cret"], rules: ["imap-login"])
        check(.imap, client: ["a1 LOGIN alice {6}\r\n", "s3cret\r\n"], server: ["+ go\r\n"], secrets: ["s3cret"], rules: ["imap-login"])
        check(.imap, client: ["a1 LOGIN {5}\r\n", "alice {6}\r\n", "s3cret\r\n"], server: ["+ go\r\n", "+ go\r\n"],
              secrets: ["s3cret"], rules: ["imap-login"])
    }

    @Test func imapAuthenticate() {
        let blob = Self.b64("\0alice\0s3cret")
        check(.imap, client: ["a1 AUTHENTICATE PLAIN\r\n", "\(blob)\r\n", "a2 NOOP\r\n"], server: ["+ \r\n", "a1 OK\r\n"],
              secrets: [blob], rules: ["imap-authenticate"])
    }

    @Test func ftpPass() {
        check(.ftp, client: ["USER alice\r\n", "PASS s3cret\r\n"], server: ["331 pw\r\n", "230 ok\r\n"], secrets: ["s3cret"], rules: ["ftp-pass"])
    }

    @Test func httpCredentialsAndCookies() {
        let basic = Self.b64("alice:s3cret")
        let request = "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(basic)\r\nCookie: session=abc123; theme=dark\r\n\r\n"
        let response = "HTTP/1.1 200 OK\r\nSet-Cookie: sid=zyx987; Path=/; HttpOnly\r\nContent-Length: 5\r\n\r\nhello"
        for chunk in Self.chunkSizes {
            let run = RedactionRun.run(.http, [(.clientToServer, request), (.serverToClient, response),
                                               (.clientToServer, "POST / HTTP/1.1\r\nContent-Length: 27\r\n\r\nCookie: notaheader=visible"),
                                               (.clientToServer, "GET / HTTP/1.1\r\nProxy-Authorization: Bearer tok3n\r\n\r\n")], chunk: chunk)
            let client = run.stream(.clientToServer), server = run.stream(.serverToClient)
            #expect(!contains(client, basic) && !contains(client, "abc123") && !contains(client, "dark") && !contains(client, "tok3n"))
            #expect(contains(client, "Authorization: Basic ") && contains(client, "Cookie: session=") && contains(client, "; theme="))
            #expect(contains(client, "notaheader=visible"))
            #expect(!contains(server, "zyx987") && contains(server, "Set-Cookie: sid=******; Path=/; HttpOnly") && contains(server, "hello"))
            #expect(run.markers.map(\.rule) == ["http-authorization", "http-cookie", "http-cookie", "http-set-cookie", "http-proxy-authorization"])
        }
    }

    @Test func redisAuth() {
        check(.redis, client: ["*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n", "*2\r\n$3\r\nGET\r\n$6\r\nvisible\r\n"],
              secrets: ["s3cret"], rules: ["redis-auth"])
        check(.redis, client: ["*3\r\n$4\r\nauth\r\n$5\r\nalice\r\n$6\r\ns3cret\r\n"], secrets: ["s3cret"], rules: ["redis-auth"])
        check(.redis, client: ["AUTH alice s3cret\r\n"], secrets: ["s3cret"], rules: ["redis-auth"])
        check(.redis, client: ["*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$6\r\ns3cret\r\n"], secrets: ["s3cret"], rules: ["redis-auth"])
    }

    @Test func postgresPasswordMessage() {
        var startup: [UInt8] = [0, 0, 0, 0, 0, 3, 0, 0] + Array("user\0alice\0\0".utf8)
        startup[3] = UInt8(startup.count)
        let password = Array("s3cret\0".utf8)
        let message: [UInt8] = [UInt8(ascii: "p"), 0, 0, 0, UInt8(password.count + 4)] + password
        let query: [UInt8] = [UInt8(ascii: "Q"), 0, 0, 0, 13] + Array("SELECT 1\0".utf8)
        let ssl: [UInt8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]
        for chunk in Self.chunkSizes {
            let run = RedactionRun.run(.postgres, [(.clientToServer, ssl), (.serverToClient, [UInt8(ascii: "N")]),
                                                   (.clientToServer, startup), (.serverToClient, [UInt8(ascii: "R"), 0, 0, 0, 8, 0, 0, 0, 3]),
                                                   (.clientToServer, message + query)], chunk: chunk)
            let expected = ssl + startup + [UInt8(ascii: "p"), 0, 0, 0, UInt8(password.count + 4)] + Array(repeating: UInt8(ascii: "*"), count: password.count) + query
            #expect(run.stream(.clientToServer) == expected, "chunk \(chunk)")
            #expect(run.markers == [Redaction(direction: .clientToServer, offset: ssl.count + startup.count + 5, length: password.count, rule: "postgres-password")])
        }
    }

    @Test func userRules() throws {
        let user = try UserRedactionRules(patterns: ["token=[a-z0-9]+", "X-Key: \\S+"])
        for chunk in Self.chunkSizes {
            let run = RedactionRun.run(.line, [(.clientToServer, "hello token=abc123 end\n"), (.serverToClient, "X-Key: k3y\r\n")], chunk: chunk, user: user)
            #expect(run.stream(.clientToServer) == Array("hello ************ end\n".utf8))
            #expect(run.stream(.serverToClient) == Array("**********\r\n".utf8))
            #expect(run.markers.map(\.rule) == ["user:1", "user:2"])
        }
        #expect(throws: RedactionPatternError.self) { try UserRedactionRules(patterns: ["(unclosed"]) }
    }

    @Test func heldOnlyUntilTheLineCompletes() {
        var redactor = Redactor()
        var output: [SessionEvent] = []
        redactor.take(SessionEvent(session: 1, offset: 0, kind: .open(SessionOpen(client: "c:1", server: "s:25", start: nil, proto: .smtp))), into: &output)
        redactor.take(SessionEvent(session: 1, offset: 1, kind: .data(.clientToServer, Array("EHLO x\r\nAUTH PL".utf8))), into: &output)
        #expect(output.count == 1)
        redactor.take(SessionEvent(session: 1, offset: 2, kind: .data(.clientToServer, Array("AIN AGEAYg==\r\n".utf8))), into: &output)
        #expect(output.count == 4)
        if output.count == 4 {
            #expect(output[1].kind == .data(.clientToServer, Array("EHLO x\r\nAUTH PL".utf8)))
            #expect(output[2].kind == .data(.clientToServer, Array("AIN ********\r\n".utf8)))
            #expect(output[3].kind == .redacted(Redaction(direction: .clientToServer, offset: 19, length: 8, rule: "smtp-auth-plain")))
        }
    }

    @Test func garbageLosesNoByte() {
        var generator = SystemRandomNumberGenerator()
        for proto in WireProtocol.allCases {
            for round in 0..<20 {
                let client = (0..<(200 + round * 37)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let server = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let run = RedactionRun.run(proto, [(.clientToServer, client), (.serverToClient, server)], chunk: 1 + round % 5)
                let out = run.stream(.clientToServer)
                #expect(out.count == client.count)
                // Every byte is the original or a placeholder over a marked range.
                var marked = Set<Int>()
                for marker in run.markers where marker.direction == .clientToServer { marked.formUnion(marker.offset..<(marker.offset + marker.length)) }
                for index in 0..<min(out.count, client.count) where out[index] != client[index] {
                    #expect(marked.contains(index) && out[index] == UInt8(ascii: "*"))
                }
                #expect(run.stream(.serverToClient).count == server.count)
            }
        }
    }

    @Test func aLongLineIsHeldAtMostTheLimit() {
        var redactor = Redactor()
        var output: [SessionEvent] = []
        redactor.take(SessionEvent(session: 1, offset: 0, kind: .open(SessionOpen(client: "c:1", server: "s:25", start: nil, proto: .smtp))), into: &output)
        let chunk = Array(repeating: UInt8(ascii: "A"), count: 1024)
        var heldMost = 0
        for index in 0..<100 {
            redactor.take(SessionEvent(session: 1, offset: Int64(index + 1), kind: .data(.clientToServer, chunk)), into: &output)
            let written = output.reduce(0) { if case .data(_, let bytes) = $1.kind { return $0 + bytes.count } else { return $0 } }
            heldMost = max(heldMost, (index + 1) * 1024 - written)
        }
        #expect(heldMost <= SecretScanner.unitLimit + 1024)
        // After the long line, a secret on the next line is still found.
        redactor.take(SessionEvent(session: 1, offset: 200, kind: .data(.clientToServer, Array("\r\nAUTH PLAIN c2VjcmV0\r\n".utf8))), into: &output)
        redactor.take(SessionEvent(session: 1, offset: 201, kind: .end), into: &output)
        let stream = output.flatMap { event -> [UInt8] in if case .data(_, let bytes) = event.kind { return bytes } else { return [] } }
        #expect(stream == Array(repeating: UInt8(ascii: "A"), count: 100 * 1024) + Array("\r\nAUTH PLAIN ********\r\n".utf8))
        #expect(redactor.openSessions == 0)
    }

    @Test func otherSessionsFlowWhileOneIsHeld() {
        var redactor = Redactor()
        var output: [SessionEvent] = []
        for session in 1...2 {
            redactor.take(SessionEvent(session: session, offset: 0, kind: .open(SessionOpen(client: "c:\(session)", server: "s:110", start: nil, proto: .pop3))), into: &output)
        }
        redactor.take(SessionEvent(session: 1, offset: 1, kind: .data(.clientToServer, Array("PASS hun".utf8))), into: &output)
        redactor.take(SessionEvent(session: 2, offset: 1, kind: .data(.clientToServer, Array("STAT\r\n".utf8))), into: &output)
        #expect(output.last == SessionEvent(session: 2, offset: 1, kind: .data(.clientToServer, Array("STAT\r\n".utf8))))
        // Session 1 ends mid-line: the partial line is searched as it is and let out.
        redactor.take(SessionEvent(session: 1, offset: 2, kind: .close(.clientToServer, .fin)), into: &output)
        #expect(output.contains(SessionEvent(session: 1, offset: 1, kind: .data(.clientToServer, Array("PASS ***".utf8)))))
        #expect(output.contains { if case .redacted(let r) = $0.kind { return r == Redaction(direction: .clientToServer, offset: 5, length: 3, rule: "pop3-pass") } else { return false } })
        var rest: [SessionEvent] = []
        redactor.finish(into: &rest)
        #expect(rest.isEmpty)
        #expect(redactor.counts == ["pop3-pass": 1])
    }
}
