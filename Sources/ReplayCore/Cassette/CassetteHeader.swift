/// The first line of every cassette.
public struct CassetteHeader: Sendable, Equatable {
    /// The `format` value every cassette carries.
    public static let formatName = "replayd-cassette"
    /// The format version this build writes.
    public static let currentVersion = 1
    /// The format versions this build reads.
    public static let supportedVersions = [1]

    /// Where the sessions came from.
    public enum Source: String, Sendable, Equatable {
        case record
        case `import`
        case capture
        case edit
    }

    public var version: Int
    /// The program and version that wrote the cassette, e.g. `replayd 0.1.0`.
    public var tool: String
    public var created: WallClock
    public var source: Source
    /// Free-form facts about the recording (upstream address, capture file name, filter).
    public var details: [String: String]

    public init(
        version: Int = CassetteHeader.currentVersion,
        tool: String = "replayd \(ReplaydVersion.current)",
        created: WallClock = .now(),
        source: Source,
        details: [String: String] = [:]
    ) {
        self.version = version
        self.tool = tool
        self.created = created
        self.source = source
        self.details = details
    }
}

/// The version of replayd itself.
public enum ReplaydVersion {
    public static let current = "0.1.0"
}
