/// Names one recorded session among all loaded cassettes: `smtp.cassette:2`.
public struct SessionRef: Sendable, Hashable, CustomStringConvertible {
    /// The cassette's path as given on the command line.
    public var file: String
    /// The session number in that cassette.
    public var session: Int

    public init(file: String, session: Int) {
        self.file = file
        self.session = session
    }

    public var description: String { "\(file):\(session)" }
}
