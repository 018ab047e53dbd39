import Foundation

/// Turns one cassette line back into a header or an event. Errors say what was wrong in
/// words a person editing the file can act on; the reader adds the file and line number.
public struct CassetteDecoder: Sendable {
    public init() {}

    /// Parses the header line.
    public func decodeHeader(_ line: some Collection<UInt8>) throws(LineError) -> CassetteHeader {
        let object = try jsonObject(line)
        guard let format = object["format"] as? String else {
            throw LineError("expected a JSON object with \"format\": \"\(CassetteHeader.formatName)\"")
        }
        guard format == CassetteHeader.formatName else {
            throw LineError("format is \"\(format)\", expected \"\(CassetteHeader.formatName)\"")
        }
        guard let version = object["version"] as? Int else { throw LineError("missing integer \"version\"") }
        guard let tool = object["tool"] as? String else { throw LineError("missing string \"tool\"") }
        guard let createdText = object["created"] as? String, let created = WallClock(iso8601: createdText) else {
            throw LineError("missing or invalid \"created\" (expected a UTC time like 2026-11-22T11:09:57.123456Z)")
        }
        guard let sourceText = object["source"] as? String, let source = CassetteHeader.Source(rawValue: sourceText) else {
            throw LineError("missing or invalid \"source\" (expected record, import, capture or edit)")
        }
        var details: [String: String] = [:]
        for (key, value) in object where !CassetteHeader.reservedKeys.contains(key) {
            if let text = value as? String { details[key] = text }
        }
        let requires = try strings(object["requires"], key: "requires", what: "event kinds or features, e.g. [\"redacted\"]")
        let masks = try strings(object["masks"], key: "masks", what: "regular expressions, e.g. [\"id=[0-9]+\"]")
        do {
            _ = try MaskSet(patterns: masks)
        } catch {
            throw LineError("\"masks\": \"\(error.pattern)\" is not a valid regular expression (\(error.reason))")
        }
        return CassetteHeader(version: version, tool: tool, created: created, source: source, details: details,
                              requires: requires, masks: masks)
    }

    /// An optional array of strings; anything else is an error naming the key.
    private func strings(_ value: Any?, key: String, what: String) throws(LineError) -> [String] {
        guard let value else { return [] }
        guard let array = value as? [Any] else { throw LineError("\"\(key)\" must be an array of strings (\(what))") }
        var result: [String] = []
        for element in array {
            guard let text = element as? String else { throw LineError("\"\(key)\" must be an array of strings (\(what))") }
            result.append(text)
        }
        return result
    }

    /// What one event line holds: an event, or an event of a kind this build does not know
    /// (a later replayd wrote it), which the reader skips unless the header requires it.
    public enum DecodedEvent: Sendable, Equatable {
        case event(SessionEvent)
        case unknown(session: Int, kind: String)
    }

    /// Parses one event line. An event of an unknown kind throws; see `decodeLine` for the
    /// forward-compatible form the reader uses.
    public func decodeEvent(_ line: some Collection<UInt8>) throws(LineError) -> SessionEvent {
        switch try decodeLine(line) {
        case .event(let event): return event
        case .unknown(_, let kind): throw LineError("unknown event \"\(kind)\" (expected \(Self.kindList))")
        }
    }

    static let kindList = "open, data, close, reset, connect-failed, gap, redacted, match, tls, fault or end"

    /// Parses one event line; an event whose `ev` this build does not know comes back as
    /// `.unknown` (its `s` and `t` are still checked).
    public func decodeLine(_ line: some Collection<UInt8>) throws(LineError) -> DecodedEvent {
        let object = try jsonObject(line)
        guard let session = object["s"] as? Int, session >= 1 else {
            throw LineError("missing \"s\" (the session number, an integer from 1)")
        }
        guard let seconds = number(object["t"]) else {
            throw LineError("missing \"t\" (seconds since the session started, e.g. 0.250000)")
        }
        guard let kindName = object["ev"] as? String else {
            throw LineError("missing \"ev\" (\(Self.kindList))")
        }
        let kind: SessionEventKind
        switch kindName {
        case "open":
            guard let client = object["client"] as? String else { throw LineError("open event without \"client\" address") }
            guard let server = object["server"] as? String else { throw LineError("open event without \"server\" address") }
            var start: WallClock?
            if let value = object["start"] {
                guard let startText = value as? String, let parsed = WallClock(iso8601: startText) else {
                    throw LineError("open event with an invalid \"start\" (a UTC time like 2026-11-22T11:09:57.123456Z, or leave it out)")
                }
                start = parsed
            }
            var proto: WireProtocol?
            if let value = object["proto"] {
                let known = WireProtocol.allCases.map(\.rawValue).joined(separator: ", ")
                guard let text = value as? String else { throw LineError("open event's \"proto\" must be a string, one of \(known)") }
                guard let parsed = WireProtocol(rawValue: text) else {
                    throw LineError("unknown \"proto\" \"\(text)\" (known: \(known))")
                }
                proto = parsed
            }
            let label = try optionalString(object, "label", event: "open")
            kind = .open(SessionOpen(client: client, server: server, start: start, proto: proto, label: label))
        case "data":
            let direction = try self.direction(object)
            if let text = object["text"] as? String {
                kind = .data(direction, Array(text.utf8))
            } else if let encoded = object["b64"] as? String {
                guard let data = Data(base64Encoded: encoded) else { throw LineError("\"b64\" is not valid base64") }
                kind = .data(direction, [UInt8](data))
            } else {
                throw LineError("data event needs \"text\" (a string) or \"b64\" (base64 bytes)")
            }
        case "close":
            let direction = try self.direction(object)
            switch object["how"] as? String {
            case nil where object["how"] == nil, "fin":
                kind = .close(direction, .fin)
            case "rst":
                // Version 1 wrote a reset as its sender's close; it is a reset of the connection.
                kind = .reset(by: direction)
            default:
                throw LineError("close event's \"how\" must be \"fin\" (a reset is {\"ev\":\"reset\",\"by\":\"client\"} or \"server\")")
            }
        case "reset":
            switch object["by"] as? String {
            case "client": kind = .reset(by: .clientToServer)
            case "server": kind = .reset(by: .serverToClient)
            default: throw LineError("reset event needs \"by\": \"client\" or \"server\" (the side that sent the RST)")
            }
        case "connect-failed":
            guard let reasonText = object["reason"] as? String, let reason = ConnectFailureReason(rawValue: reasonText) else {
                throw LineError("connect-failed event needs \"reason\": refused, timeout, unreachable or other")
            }
            let elapsed = number(object["elapsed"]).map(nanoseconds) ?? 0
            kind = .connectFailed(ConnectFailure(reason: reason, elapsed: elapsed, message: object["message"] as? String ?? ""))
        case "gap":
            let direction = try self.direction(object)
            guard let count = object["bytes"] as? Int, count >= 0 else {
                throw LineError("gap event needs \"bytes\": the number of missing bytes")
            }
            kind = .gap(direction, count)
        case "redacted":
            let direction = try self.direction(object)
            guard let at = object["at"] as? Int, at >= 0 else {
                throw LineError("redacted event needs \"at\": the byte offset in the direction's stream, an integer from 0")
            }
            guard let count = object["bytes"] as? Int, count >= 0 else {
                throw LineError("redacted event needs \"bytes\": how many bytes were replaced")
            }
            guard let rule = object["rule"] as? String else {
                throw LineError("redacted event needs \"rule\": the name of the redaction rule")
            }
            kind = .redacted(Redaction(direction: direction, offset: at, length: count, rule: rule))
        case "match":
            let direction = try self.direction(object)
            guard let at = object["at"] as? Int, at >= 0 else {
                throw LineError("match event needs \"at\": the byte offset in the direction's stream, an integer from 0")
            }
            guard let count = object["bytes"] as? Int, count >= 0 else {
                throw LineError("match event needs \"bytes\": how many bytes of the stream the pattern stands for")
            }
            guard let source = object["pattern"] as? String else {
                throw LineError("match event needs \"pattern\": the pattern as a transcript writes it, e.g. \"RCPT TO:*\"")
            }
            do {
                _ = try MessagePattern(source: source)
            } catch {
                throw LineError("match event: \(error)")
            }
            kind = .pattern(PatternMark(direction: direction, offset: at, length: count, source: source))
        case "tls":
            var leg: TLSLeg?
            if let name = try optionalString(object, "leg", event: "tls") {
                guard let known = TLSLeg(rawValue: name) else {
                    throw LineError("tls event: \"leg\" must be \"client\" or \"upstream\", not \"\(name)\"")
                }
                leg = known
            }
            kind = .tls(TLSMarker(
                version: try optionalString(object, "version", event: "tls"),
                cipher: try optionalString(object, "cipher", event: "tls"),
                sni: try optionalString(object, "sni", event: "tls"),
                alpn: try optionalString(object, "alpn", event: "tls"),
                failure: try optionalString(object, "failure", event: "tls"),
                leg: leg))
        case "fault":
            guard let rule = object["rule"] as? String else { throw LineError("fault event needs \"rule\": the rule that fired") }
            guard let action = object["action"] as? String else { throw LineError("fault event needs \"action\": what was injected") }
            kind = .fault(InjectedFault(rule: rule, action: action, detail: try optionalString(object, "detail", event: "fault")))
        case "end":
            kind = .end
        default:
            return .unknown(session: session, kind: kindName)
        }
        return .event(SessionEvent(session: session, offset: nanoseconds(seconds), kind: kind))
    }

    private func optionalString(_ object: [String: Any], _ key: String, event: String) throws(LineError) -> String? {
        guard let value = object[key] else { return nil }
        guard let text = value as? String else { throw LineError("\(event) event's \"\(key)\" must be a string") }
        return text
    }

    private func jsonObject(_ line: some Collection<UInt8>) throws(LineError) -> [String: Any] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(line), options: [])
        } catch {
            throw LineError("not valid JSON (\(Self.describe(error)))")
        }
        guard let object = parsed as? [String: Any] else { throw LineError("expected a JSON object {...}") }
        return object
    }

    private func direction(_ object: [String: Any]) throws(LineError) -> Direction {
        guard let text = object["dir"] as? String, let direction = Direction(rawValue: text) else {
            throw LineError("needs \"dir\": \"c2s\" (client to server) or \"s2c\" (server to client)")
        }
        return direction
    }

    private func number(_ value: Any?) -> Double? {
        if let double = value as? Double, double.isFinite { return double }
        if let int = value as? Int { return Double(int) }
        return nil
    }

    private func nanoseconds(_ seconds: Double) -> Int64 {
        Int64((seconds * 1_000_000_000).rounded())
    }

    private static func describe(_ error: Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        return text ?? "\(error)"
    }

    /// What was wrong with one line; `CassetteReader` turns it into a `CassetteError` with the place.
    public struct LineError: Error, Equatable {
        public var detail: String
        public init(_ detail: String) { self.detail = detail }
    }
}
