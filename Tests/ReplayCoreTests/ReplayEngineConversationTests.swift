import Foundation
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

extension HeavyTests.ReplayEngineEndToEnd {
    /// Conversations chosen by what the client sends, against a real Postfix: three sessions
    /// that differ only from RCPT TO on (accepted, unknown user, relay denied) are recorded,
    /// and each replayed client gets the conversation of its own recipient, whatever the order
    /// in which clients connect, concurrently too, and from one cassette or three.
    @Suite("Conversations chosen by content (Postfix)")
    struct ConversationTests {
        static let conversations: [(label: String, recipient: String, rcptReply: String)] = [
            ("accepted", "postmaster@example.net", "250 2.1.5 Ok"),
            ("unknown user", "nosuchuser@example.net", "550 5.1.1 <nosuchuser@example.net>: Recipient address rejected: User unknown in local recipient table"),
            ("relay denied", "someone@elsewhere.org", "554 5.7.1 <someone@elsewhere.org>: Relay access denied"),
        ]

        func swaksArguments(recipient: String, helo: String) -> [String] {
            ["--helo", helo, "--from", "sender@client.example.org", "--to", recipient]
        }

        /// Records one swaks session per recipient through `replayd record` into `cassette`.
        func record(_ recipients: [String], postfix: PostfixServer, into cassette: String) async throws -> [String: [SMTPReply]] {
            let (recorder, port) = try await ReplaydProcess.record(upstream: postfix.port, to: cassette)
            defer { recorder.stop() }
            var recorded: [String: [SMTPReply]] = [:]
            for recipient in recipients {
                let (replies, output) = try await SMTPClients.swaks(port: port, swaksArguments(recipient: recipient, helo: "recorded.client.example.org"))
                let expected = try #require(Self.conversations.first { $0.recipient == recipient }).rcptReply
                try #require(replies.count >= 4 && replies[3].lines == [expected],
                             "Postfix answered RCPT TO:<\(recipient)> otherwise; swaks:\n\(output)\nmaillog:\n\(postfix.maillog)")
                recorded[recipient] = replies
            }
            #expect(try await ReplaydProcess.finish(recorder) == 0, "record stderr: \(recorder.stderr)")
            return recorded
        }

        @Test("each client gets the conversation of its recipient: in reverse order, concurrently, and from three cassettes")
        func chosenByContent() async throws {
            let directory = try TestPaths.temporaryDirectory("e2e-postfix")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let recipients = Self.conversations.map(\.recipient)

            let postfix = try await PostfixServer(directory: directory)
            defer { postfix.stop() }
            let together = directory + "/together.cassette"
            let recorded = try await record(recipients, postfix: postfix, into: together)
            var separate: [(cassette: String, recipient: String, replies: [SMTPReply])] = []
            for (index, recipient) in recipients.enumerated() {
                let cassette = directory + "/\(["a", "b", "c"][index]).cassette"
                let replies = try await record([recipient], postfix: postfix, into: cassette)
                separate.append((cassette, recipient, try #require(replies[recipient])))
            }
            postfix.stop()
            #expect(!LoopbackPort.accepts(port: postfix.port), "Postfix still listens on \(postfix.port)")
            try #require(try Cassette.load(path: together).sessions.count == 3)

            // 1. One client after another, in the reverse order of the recording, with another EHLO name.
            do {
                let (replayer, port) = try await ReplaydProcess.replay([together])
                defer { replayer.stop() }
                for recipient in recipients.reversed() {
                    let (replies, output) = try await SMTPClients.swaks(port: port, swaksArguments(recipient: recipient, helo: "reverse.example.com"))
                    #expect(replies == recorded[recipient], "reverse order, \(recipient):\n\(output)\nreplay stderr:\n\(replayer.stderr)")
                }
            }

            // 2. Three at once; the unknown user's client connects first and still gets its 550.
            do {
                let (replayer, port) = try await ReplaydProcess.replay([together])
                defer { replayer.stop() }
                let order = ["nosuchuser@example.net", "postmaster@example.net", "someone@elsewhere.org"]
                var clients: [(String, ChildProcess)] = []
                for recipient in order {
                    clients.append((recipient, try ChildProcess("swaks", ["--server", "127.0.0.1", "--port", String(port), "--timeout", "15"]
                        + swaksArguments(recipient: recipient, helo: "concurrent.example.com"))))
                    if clients.count == 1 { try await Task.sleep(for: .milliseconds(150)) }
                }
                defer { clients.forEach { $0.1.stop() } }
                for (recipient, client) in clients {
                    try await client.wait(timeout: 30)
                    #expect(SMTPClients.replies(inSwaksOutput: client.stdout) == recorded[recipient], "concurrent, \(recipient):\n\(client.stdout)\nreplay stderr:\n\(replayer.stderr)")
                }
            }

            // 3. Three cassettes of one session each form one set.
            do {
                let (replayer, port) = try await ReplaydProcess.replay(separate.map(\.cassette))
                defer { replayer.stop() }
                for index in [1, 2, 0] {
                    let (replies, output) = try await SMTPClients.swaks(port: port, swaksArguments(recipient: separate[index].recipient, helo: "three-files.example.com"))
                    #expect(replies == separate[index].replies, "three cassettes, \(separate[index].recipient):\n\(output)\nreplay stderr:\n\(replayer.stderr)")
                }
            }
        }
    }
}
