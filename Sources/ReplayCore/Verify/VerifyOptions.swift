/// How verify plays the client side and how long it waits.
public struct VerifyOptions: Sendable, Equatable {
    /// Recorded think times are divided by this.
    public var speed: Double
    /// No think time at all.
    public var noDelay: Bool
    /// How long a reply may take, in nanoseconds (a reply recorded as slower is given its
    /// recorded time plus `margin`).
    public var replyTimeout: Int64
    /// The silence window after the last reply, in nanoseconds; `nil`: the recorded pause
    /// before the ending (at most `pauseCap`) plus `margin`.
    public var silence: Int64?
    /// TLS from the first byte for every session (`--tls`), whether recorded so or not.
    public var implicitTLS: Bool

    public static let defaultReplyTimeout: Int64 = 10_000_000_000
    /// Added to recorded pauses: a live server is allowed to be somewhat slower than recorded.
    public static let margin: Int64 = 2_000_000_000
    /// Recorded pauses longer than this count as this long (a client that idled a minute
    /// before closing does not make every run wait a minute).
    public static let pauseCap: Int64 = 10_000_000_000

    public init(speed: Double = 1, noDelay: Bool = false, replyTimeout: Int64 = defaultReplyTimeout, silence: Int64? = nil,
                implicitTLS: Bool = false) {
        self.implicitTLS = implicitTLS
        self.speed = speed
        self.noDelay = noDelay
        self.replyTimeout = replyTimeout
        self.silence = silence
    }

    /// The think time to wait for a recorded one.
    func think(_ recorded: Int64) -> Int64 {
        guard !noDelay, recorded > 0, speed > 0 else { return 0 }
        return Int64((Double(recorded) / speed).rounded())
    }

    /// How long to wait for a reply the recorded server gave after `recordedDelay`.
    func replyWait(recordedDelay: Int64) -> Int64 {
        recordedDelay > replyTimeout ? recordedDelay + Self.margin : replyTimeout
    }

    /// How long to wait for the server's ending after the last reply.
    func silenceWindow(recordedPause: Int64) -> Int64 {
        silence ?? (min(max(0, recordedPause), Self.pauseCap) + Self.margin)
    }
}
