/// A whole cassette in memory: its header and its sessions in order of start.
public struct Cassette: Sendable, Equatable {
    public var header: CassetteHeader
    public var sessions: [Session]
    /// Problems that did not stop loading (an incomplete last line, skipped unknown events).
    public var warnings: [String]

    public init(header: CassetteHeader, sessions: [Session], warnings: [String] = []) {
        self.header = header
        self.sessions = sessions
        self.warnings = warnings
    }

    /// Loads and groups every event of the file. An event for a session whose `open` line has
    /// not come yet is an error naming its line.
    public static func load(path: String) throws(CassetteError) -> Cassette {
        let reader = try CassetteReader(path: path)
        var sessions: [Session] = []
        var indexByID: [Int: Int] = [:]
        while let event = try reader.next() {
            if case .open(let open) = event.kind {
                guard indexByID[event.session] == nil else {
                    throw .malformedLine(path: path, line: reader.lineNumber, detail: "session \(event.session) is opened a second time")
                }
                indexByID[event.session] = sessions.count
                sessions.append(Session(id: event.session, open: open, events: [event]))
            } else if let index = indexByID[event.session] {
                sessions[index].events.append(event)
            } else {
                throw .malformedLine(path: path, line: reader.lineNumber, detail: "event for session \(event.session), which has no \"open\" line before it")
            }
        }
        // Sessions are numbered in order of start, but an `open` line may come after lines of
        // later sessions (a recorder holds it until it knows the protocol): order by number.
        sessions.sort { $0.id < $1.id }
        return Cassette(header: reader.header, sessions: sessions, warnings: reader.warnings)
    }

    /// The session with number `id`.
    public func session(_ id: Int, path: String) throws(CassetteError) -> Session {
        guard let session = sessions.first(where: { $0.id == id }) else {
            throw .noSuchSession(path: path, session: id, available: sessions.count)
        }
        return session
    }
}
