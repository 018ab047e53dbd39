/// The first line of every cassette.
public struct CassetteHeader: Sendable, Equatable {
    /// The `format` value every cassette carries.
    public static let formatName = "replayd-cassette"
    /// The format version this build writes.
    public static let currentVersion = 2
    /// The format versions this build reads.
    public static let supportedVersions = [1, 2]
    /// The event kinds this build reads (`ev` values). Any other kind is skipped with a warning,
    /// unless the header's `requires` lists it.
    public static let knownEventKinds: Set<String> = [
        "open", "data", "close", "reset", "connect-failed", "gap", "redacted", "match", "tls", "fault", "end",
    ]
    /// What a header's `requires` may name for this build: the known event kinds, plus header
    /// features whose meaning a reader must not ignore.
    public static let knownFeatures: Set<String> = knownEventKinds.union(["masks"])

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
    /// Event kinds or features a reader must understand to use this cassette (`requires`): a
    /// reader that does not know one refuses the file instead of skipping what it means.
    public var requires: [String]
    /// The cassette's own masks for replay matching (`masks`): regular expressions, as `--mask`.
    public var masks: [String]

    public init(
        version: Int = CassetteHeader.currentVersion,
        tool: String = "replayd \(ReplaydVersion.current)",
        created: WallClock = .now(),
        source: Source,
        details: [String: String] = [:],
        requires: [String] = [],
        masks: [String] = []
    ) {
        self.version = version
        self.tool = tool
        self.created = created
        self.source = source
        self.details = details
        self.requires = requires
        self.masks = masks
    }
}

/// The version of replayd itself.
public enum ReplaydVersion {
    public static let current = "0.1.0"
}
