import Foundation

/// One SMTP reply: its code and its lines as sent (`250-mx.example.net`, `250 HELP`).
struct SMTPReply: Equatable, CustomStringConvertible {
    var lines: [String]

    var code: Int? { lines.first.flatMap { Int($0.prefix(3)) } }
    /// The lines without their codes, joined by "\n": what Python's smtplib returns as the message.
    var text: String { lines.map { String($0.dropFirst(4)) }.joined(separator: "\n") }
    var description: String { lines.joined(separator: " | ") }

    /// Groups reply lines into replies: a reply ends with the line whose fourth character is a space.
    static func group(_ lines: [String]) -> [SMTPReply] {
        var replies: [SMTPReply] = [], current: [String] = []
        for line in lines {
            current.append(line)
            if line.count < 4 || line[line.index(line.startIndex, offsetBy: 3)] != "-" {
                replies.append(SMTPReply(lines: current))
                current = []
            }
        }
        if !current.isEmpty { replies.append(SMTPReply(lines: current)) }
        return replies
    }
}

/// The SMTP clients of the end-to-end tests: swaks, Python's smtplib, curl.
enum SMTPClients {
    /// Runs swaks against 127.0.0.1:`port` and returns the server's reply lines as swaks shows
    /// them (`<-  ` for a reply, `<** ` for an error reply, `<~  ` and `<~* ` over TLS; the marker is cut off) and its whole output.
    static func swaks(port: Int, _ arguments: [String]) async throws -> (replies: [SMTPReply], output: String) {
        let run = try await timedSwaks(port: port, timeout: 15, arguments)
        return (run.replies, run.output)
    }

    /// `swaks` with its own `--timeout`, and how long the whole run took (for tests of delays and stalls).
    static func timedSwaks(port: Int, timeout: Int, _ arguments: [String]) async throws -> (replies: [SMTPReply], output: String, seconds: Double) {
        let started = Date()
        let swaks = try ChildProcess("swaks", ["--server", "127.0.0.1", "--port", String(port), "--timeout", String(timeout)] + arguments)
        _ = try await swaks.wait(timeout: Double(timeout) + 20)
        return (replies(inSwaksOutput: swaks.stdout), swaks.stdout + swaks.stderr, Date().timeIntervalSince(started))
    }

    /// The replies in swaks' output: `<-  ` a reply, `<** ` an error reply, `<~  ` and `<~* ` the
    /// same over TLS (the marker cut off).
    static func replies(inSwaksOutput output: String) -> [SMTPReply] {
        SMTPReply.group(output.split(separator: "\n")
            .filter { $0.hasPrefix("<-  ") || $0.hasPrefix("<** ") || $0.hasPrefix("<~  ") || $0.hasPrefix("<~* ") }
            .map { String($0.dropFirst(4)) })
    }

    /// One reply as `fixtures/peers/smtplib-client.py` prints it.
    struct SmtplibReply: CustomStringConvertible {
        var after: String
        var code: Int
        var text: String
        var latency: Double
        var description: String { "after \(after): \(code) \(text.replacingOccurrences(of: "\n", with: "\\n")) (\(latency)s)" }
    }

    /// Runs the smtplib client (sendmail, then quit) against 127.0.0.1:`port`; returns its replies
    /// in order and its whole output (errors included).
    static func smtplib(port: Int, helo: String, from: String, to: String, bodyLines: Int = 3) async throws -> (replies: [SmtplibReply], output: String) {
        let client = try ChildProcess("python3", [
            TestPaths.fixture("peers/smtplib-client.py"), "--port", String(port),
            "--helo", helo, "--from", from, "--to", to, "--body-lines", String(bodyLines), "--timeout", "10",
        ])
        try await client.wait(timeout: 30)
        var replies: [SmtplibReply] = []
        for line in client.stdout.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let code = object["code"] as? Int, let text = object["text"] as? String else { continue }
            replies.append(SmtplibReply(after: object["after"] as? String ?? "?", code: code, text: text,
                                        latency: object["latency"] as? Double ?? -1))
        }
        return (replies, client.stdout + client.stderr)
    }
}
