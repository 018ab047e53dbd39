/// The plaintext prefix of a STARTTLS session, free of I/O: it watches the bytes both ways for
/// the client's request to upgrade and the server's answer, and says when to switch both legs
/// to TLS. Bytes are forwarded as they come (never held back, never changed) except client
/// bytes sent after the upgrade request: those wait for the server's answer, and are dropped
/// if the server accepts, since plaintext pipelined behind STARTTLS must never be carried into
/// the TLS session (CVE-2011-0411 and its kind). Server bytes after a positive answer, before
/// TLS, are dropped for the same reason.
///
/// One upgrade per session: once it is decided the negotiation is over and passes everything.
public struct StartTLSNegotiation: Sendable {
    /// The protocols whose upgrade is understood (`record --starttls`).
    public enum Dialect: String, Sendable, CaseIterable {
        /// `STARTTLS`, answered `220` (RFC 3207).
        case smtp
        /// `TAG STARTTLS`, answered `TAG OK` (RFC 3501).
        case imap
        /// `STLS`, answered `+OK` (RFC 2595).
        case pop3
        /// `AUTH TLS` (or `AUTH SSL`, `AUTH TLS-C`), answered `234` (RFC 4217).
        case ftp
        /// The 8-byte SSLRequest as the first message, answered by one byte, `S` or `N`.
        case postgres
    }

    /// What the proxy must do after an event, in order.
    public enum Action: Sendable, Equatable {
        /// Forward these bytes, read from `from`, to the other side.
        case forward(from: ProxySide, [UInt8])
        /// Drop this many bytes read from `from`: sent after the upgrade request (client) or
        /// after the positive answer (server), before TLS began.
        case discard(from: ProxySide, count: Int)
        /// The server accepted, and its answer was forwarded by the action before: switch both
        /// legs to TLS now, before anything more is read.
        case upgrade
        /// The server refused the upgrade with this answer (already forwarded); the session
        /// goes on in plaintext.
        case refused(String)
    }

    private enum Phase: Sendable, Equatable {
        /// Watching the client for the upgrade request.
        case plaintext
        /// The request was forwarded; waiting for the server's answer.
        case awaitingAnswer
        /// Decided (upgraded, or not a STARTTLS session at all): everything passes.
        case done
    }

    public let dialect: Dialect
    private var phase = Phase.plaintext
    /// The client's line so far (line protocols), only as much as a request can be long.
    private var clientLine: [UInt8] = []
    /// The client's current line is longer than any request: it is not one.
    private var clientLineTooLong = false
    /// SMTP: inside a message body (after `DATA`), where a line `STARTTLS` is just text.
    private var inMessageBody = false
    /// The server's answer line so far.
    private var serverLine: [UInt8] = []
    /// Answers the server owes before the one to the upgrade request (commands sent with it).
    private var answersBefore = 0
    /// IMAP: the tag of the STARTTLS command, whose tagged answer decides.
    private var imapTag: [UInt8] = []
    /// PostgreSQL: the first bytes the client sent, until 8 are known.
    private var startBytes: [UInt8] = []
    /// Client bytes after the request, held until the server answers.
    private var held: [UInt8] = []
    /// Client bytes after the request beyond `holdLimit`: dropped at once, whatever the answer.
    private var overflow = 0

    /// The longest line that can still be an upgrade request (`A0001 STARTTLS\r\n` and kin).
    static let requestLineLimit = 256
    /// The longest answer line kept to decide on (its code and first words are enough).
    static let answerLineLimit = 1024
    /// Client bytes held while the server answers; a client that waits sends none.
    public static let holdLimit = 64 * 1024

    /// PostgreSQL's SSLRequest: length 8, code 80877103.
    static let postgresSSLRequest: [UInt8] = [0x00, 0x00, 0x00, 0x08, 0x04, 0xD2, 0x16, 0x2F]

    public init(dialect: Dialect) {
        self.dialect = dialect
    }

    /// Whether the negotiation is over (upgraded, or never to be): the proxy can stop asking.
    public var isDone: Bool { phase == .done }

    /// Whether the upgrade request was forwarded and the server's answer is awaited.
    public var isAwaitingAnswer: Bool { phase == .awaitingAnswer }

    // MARK: Client bytes

    /// Bytes read from the client.
    public mutating func clientBytes(_ bytes: [UInt8]) -> [Action] {
        switch phase {
        case .done:
            return [.forward(from: .client, bytes)]
        case .awaitingAnswer:
            return hold(bytes[...])
        case .plaintext:
            return dialect == .postgres ? postgresClient(bytes) : lineClient(bytes)
        }
    }

    private mutating func hold(_ bytes: ArraySlice<UInt8>) -> [Action] {
        let room = max(0, Self.holdLimit - held.count)
        held.append(contentsOf: bytes.prefix(room))
        let dropped = bytes.count - min(room, bytes.count)
        guard dropped > 0 else { return [] }
        overflow += dropped
        return [.discard(from: .client, count: dropped)]
    }

    private mutating func postgresClient(_ bytes: [UInt8]) -> [Action] {
        let need = 8 - startBytes.count
        let head = bytes.prefix(need)
        startBytes.append(contentsOf: head)
        guard startBytes.count == 8 else {
            // Too early to tell: the bytes go on, the decision waits for the 8th.
            return bytes.isEmpty ? [] : [.forward(from: .client, bytes)]
        }
        guard startBytes == Self.postgresSSLRequest else {
            phase = .done
            return [.forward(from: .client, bytes)]
        }
        phase = .awaitingAnswer
        var actions: [Action] = [.forward(from: .client, Array(head))]
        actions += hold(bytes.dropFirst(head.count))
        return actions
    }

    private mutating func lineClient(_ bytes: [UInt8]) -> [Action] {
        var index = bytes.startIndex
        // Commands completed in this read: sent with the request, they are answered before it.
        var commands = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\n") {
                let line = clientLine
                let tooLong = clientLineTooLong
                clientLine.removeAll(keepingCapacity: true)
                clientLineTooLong = false
                if !tooLong, isUpgradeRequest(line) {
                    phase = .awaitingAnswer
                    answersBefore = commands
                    var actions: [Action] = [.forward(from: .client, Array(bytes[..<index]))]
                    actions += hold(bytes[index...])
                    return actions
                }
                if !tooLong, noteCommand(line) { commands += 1 }
            } else if !clientLineTooLong {
                if clientLine.count < Self.requestLineLimit {
                    clientLine.append(byte)
                } else {
                    clientLineTooLong = true
                    clientLine.removeAll(keepingCapacity: true)
                }
            }
        }
        return bytes.isEmpty ? [] : [.forward(from: .client, bytes)]
    }

    /// A command line that is not the request: SMTP's DATA body is tracked (a body line is
    /// not a command), and commands sent in the same read as the request owe answers first.
    /// Answers whether the line is a command the server answers.
    private mutating func noteCommand(_ line: [UInt8]) -> Bool {
        let text = Self.trimmed(line)
        guard dialect == .smtp else { return !text.isEmpty }
        if inMessageBody {
            // The body's end is answered like a command.
            if text == [UInt8(ascii: ".")] { inMessageBody = false; return true }
            return false
        }
        if Self.upper(text) == Array("DATA".utf8) { inMessageBody = true }
        return !text.isEmpty
    }

    private mutating func isUpgradeRequest(_ line: [UInt8]) -> Bool {
        let words = Self.trimmed(line).split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true).map { Self.upper(Array($0)) }
        switch dialect {
        case .smtp:
            return !inMessageBody && words == [Array("STARTTLS".utf8)]
        case .pop3:
            return words == [Array("STLS".utf8)]
        case .ftp:
            guard words.count == 2, words[0] == Array("AUTH".utf8) else { return false }
            return [Array("TLS".utf8), Array("SSL".utf8), Array("TLS-C".utf8)].contains(words[1])
        case .imap:
            guard words.count == 2, words[1] == Array("STARTTLS".utf8) else { return false }
            // The tag as sent (tags are case-sensitive on the wire).
            imapTag = Array(Self.trimmed(line).split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)[0])
            return true
        case .postgres:
            return false
        }
    }

    // MARK: Server bytes

    /// Bytes read from the server.
    public mutating func serverBytes(_ bytes: [UInt8]) -> [Action] {
        guard phase == .awaitingAnswer else { return [.forward(from: .server, bytes)] }
        if dialect == .postgres { return postgresAnswer(bytes) }
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if serverLine.count < Self.answerLineLimit { serverLine.append(byte) }
            guard byte == UInt8(ascii: "\n") else { continue }
            let line = serverLine
            serverLine.removeAll(keepingCapacity: true)
            guard let accepted = decides(line) else { continue }
            let answer = Array(bytes[..<index])
            let rest = bytes[index...]
            return decided(accepted: accepted, answer: answer, line: line, rest: rest)
        }
        return bytes.isEmpty ? [] : [.forward(from: .server, bytes)]
    }

    private mutating func postgresAnswer(_ bytes: [UInt8]) -> [Action] {
        guard let first = bytes.first else { return [] }
        // 'S': go ahead; 'N' (or an ErrorResponse from a server too old to know the request): plaintext.
        return decided(accepted: first == UInt8(ascii: "S"), answer: [first], line: [first], rest: bytes.dropFirst())
    }

    private mutating func decided(accepted: Bool, answer: [UInt8], line: [UInt8], rest: ArraySlice<UInt8>) -> [Action] {
        var actions: [Action] = [.forward(from: .server, answer)]
        let heldBytes = held
        held = []
        if accepted {
            phase = .done
            if !rest.isEmpty { actions.append(.discard(from: .server, count: rest.count)) }
            if !heldBytes.isEmpty { actions.append(.discard(from: .client, count: heldBytes.count)) }
            actions.append(.upgrade)
            return actions
        }
        actions.append(.refused(String(decoding: Self.trimmed(line), as: UTF8.self)))
        if !rest.isEmpty { actions.append(.forward(from: .server, Array(rest))) }
        // Plaintext goes on: what the client sent meanwhile reaches the server as it would
        // have without replayd (and may hold another request).
        phase = dialect == .postgres ? .done : .plaintext
        if !heldBytes.isEmpty { actions += clientBytes(heldBytes) }
        return actions
    }

    /// Whether this complete answer line decides the upgrade (true: accepted), or nil when it
    /// is not the final answer to the request (a continuation line, an untagged IMAP line, an
    /// answer to an earlier command).
    private mutating func decides(_ line: [UInt8]) -> Bool? {
        let text = Self.trimmed(line)
        switch dialect {
        case .smtp, .ftp:
            // NNN-text continues; NNN text (or NNN alone) is the last line.
            guard text.count >= 3, text.prefix(3).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            if text.count > 3, text[text.startIndex + 3] != UInt8(ascii: " ") { return nil }
            if answersBefore > 0 {
                answersBefore -= 1
                return nil
            }
            let code = Array(text.prefix(3))
            return code == Array((dialect == .smtp ? "220" : "234").utf8)
        case .pop3:
            let positive = text.starts(with: Array("+OK".utf8))
            guard positive || text.starts(with: Array("-ERR".utf8)) else { return nil }
            if answersBefore > 0 {
                answersBefore -= 1
                return nil
            }
            return positive
        case .imap:
            let words = text.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: true)
            guard words.count >= 2, Array(words[0]) == imapTag else { return nil }
            return Self.upper(Array(words[1])) == Array("OK".utf8)
        case .postgres:
            return nil
        }
    }

    // MARK: Helpers

    /// Without the line ending and surrounding spaces.
    static func trimmed(_ line: [UInt8]) -> [UInt8] {
        var slice = line[...]
        while let last = slice.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        return Array(slice)
    }

    static func upper(_ bytes: [UInt8]) -> [UInt8] {
        bytes.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
    }
}
