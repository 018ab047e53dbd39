/// What verify found for one session: each step compared, the first difference if any, and
/// how the two servers ended.
public struct SessionVerdict: Sendable, Equatable {
    /// The result of one step.
    public enum Result: String, Sendable, Equatable {
        /// The live reply equals the recorded one after masks (or matches its pattern).
        case matched
        case different
        /// Read but not compared (the polite exit's reply).
        case notCompared = "not-compared"
    }

    /// One step as played.
    public struct Step: Sendable, Equatable {
        /// 0 for the opening, then the client messages from 1.
        public var step: Int
        public var kind: String
        /// The client message that preceded the reply, as recorded (secrets as `*`).
        public var sent: [UInt8]
        public var result: Result
        public var recorded: [UInt8]
        public var live: [UInt8]
        public var detail: String?
    }

    /// Where the session differs: a step's reply, or the ending.
    public struct Difference: Sendable, Equatable {
        /// The step whose reply differs; `nil` for the ending.
        public var step: Int?
        public var kind: String?
        /// The client message that preceded the reply (`nil` for the opening and the ending).
        public var sent: [UInt8]?
        /// The recorded and live replies; for the ending, how each server ended, in words.
        public var recorded: [UInt8]
        public var live: [UInt8]
        public var detail: String
        /// The recorded reply's messages as a person wrote them when patterns decide it
        /// (`550*  (pattern)`); empty when the recorded bytes say it all.
        public var recordedPatterns: [String] = []
    }

    public var session: SessionRef
    public var label: String?
    public var proto: WireProtocol
    public var steps: [Step]
    /// The first difference (verify stops there, politely); `nil`: the session matched.
    public var difference: Difference?
    /// How the recorded and the live server ended; `nil` when not compared (`--until`, or a
    /// difference before the end).
    public var recordedEnding: VerifyEnding?
    public var liveEnding: VerifyEnding?

    public var matched: Bool { difference == nil }
    /// Steps whose replies matched.
    public var matchedSteps: Int { steps.filter { $0.result == .matched }.count }
}
