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
        return CassetteHeader(version: version, tool: tool, created: created, source: source, details: details)
    }

    /// Parses one event line.
    public func decodeEvent(_ line: some Collection<UInt8>) throws(LineError) -> SessionEvent {
        let object = try jsonObject(line)
        guard let session = object["s"] as? Int, session >= 1 else {
            throw LineError("missing \"s\" (the session number, an integer from 1)")
        }
        guard let seconds = number(object["t"]) else {
            throw LineError("missing \"t\" (seconds since the session started, e.g. 0.250000)")
        }
        guard let kindName = object["ev"] as? String else {
            throw LineError("missing \"ev\" (open, data, close, connect-failed, gap or end)")
        }
        let kind: SessionEventKind
        switch kindName {
        case "open":
            guard let client = object["client"] as? String else { throw LineError("open event without \"client\" address") }
            guard let server = object["server"] as? String else { throw LineError("open event without \"server\" address") }
            guard let startText = object["start"] as? String, let start = WallClock(iso8601: startText) else {
                throw LineError("open event without a valid \"start\" (a UTC time like 2026-11-22T11:09:57.123456Z)")
            }
            kind = .open(SessionOpen(client: client, server: server, start: start))
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
            guard let howText = object["how"] as? String, let how = CloseKind(rawValue: howText) else {
                throw LineError("close event needs \"how\": \"fin\" or \"rst\"")
            }
            kind = .close(direction, how)
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
        case "end":
            kind = .end
        default:
            throw LineError("unknown event \"\(kindName)\" (expected open, data, close, connect-failed, gap or end)")
        }
        return SessionEvent(session: session, offset: nanoseconds(seconds), kind: kind)
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
