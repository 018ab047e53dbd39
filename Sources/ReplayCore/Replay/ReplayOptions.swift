/// How a replay runs.
public struct ReplayOptions: Sendable, Equatable {
    /// Delays are divided by this (2 = twice as fast). Must be greater than 0.
    public var speed: Double
    /// Send every chunk as soon as the client has sent what it must wait for.
    public var noDelay: Bool
    /// Nanoseconds to keep a connection open once the recording is exhausted and the server
    /// stays silent (or has sent its FIN and waits for the client's). `nil` holds until the
    /// client closes.
    public var hold: Int64?
    /// Start again from the first session after the last one has been served.
    public var loop: Bool

    public init(speed: Double = 1, noDelay: Bool = false, hold: Int64? = nil, loop: Bool = false) {
        self.speed = speed
        self.noDelay = noDelay
        self.hold = hold
        self.loop = loop
    }

    /// A recorded delay as it is to be waited now.
    func scaled(_ delay: Int64) -> Int64 {
        if noDelay || delay <= 0 { return 0 }
        guard speed > 0, speed.isFinite else { return delay }
        let value = (Double(delay) / speed).rounded()
        return value >= Double(Int64.max) ? Int64.max / 4 : Int64(value)
    }
}
