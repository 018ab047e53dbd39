/// Server bytes on their way to the client while a `record --fault` holds or paces them
/// (`delay=`, `slow=`, `slice=`), free of I/O: bytes go in with the time they arrived, writes
/// come out when due, always in the order the server sent them. The proxy writes what is due,
/// asks `nextDue` when to come back, and stops reading the server while `queuedBytes` is at its
/// bound, so a slowed connection holds the server back instead of filling memory.
public struct PacedOutbox: Sendable, Equatable {
    /// One write to the client and when it is due (monotonic nanoseconds).
    public struct Write: Sendable, Equatable {
        public var bytes: [UInt8]
        public var due: Int64
    }

    private var queue: [Write] = []
    private var head = 0
    /// When the last queued write is due: later bytes never overtake it.
    private var lastDue: Int64 = .min
    /// Bytes queued and not yet due.
    public private(set) var queuedBytes = 0
    /// `slow=`: at most this many bytes per second.
    public private(set) var rate: Int?
    /// `slice=`: writes of at most this many bytes.
    public private(set) var slice: Int?

    public init() {}

    /// Nothing is waiting.
    public var isEmpty: Bool { head == queue.count }

    /// Whether server bytes must go through the outbox: shaping is on, or earlier bytes wait.
    public var isEngaged: Bool { rate != nil || slice != nil || !isEmpty }

    /// When the next write is due, if one waits.
    public var nextDue: Int64? { isEmpty ? nil : queue[head].due }

    /// Turns on `slow=` (`rate`) or `slice=` (`slice`) for every later write; nil leaves either as it is.
    public mutating func shape(rate: Int?, slice: Int?) {
        if let rate { self.rate = max(1, rate) }
        if let slice { self.slice = max(1, slice) }
    }

    /// Server bytes that arrived at `now`, to be held `delay` nanoseconds longer. At a rate,
    /// they are cut into writes of a twentieth of a second's bytes, each due once the one before
    /// it would have been sent at that rate (as the replay's `slow=` does).
    public mutating func add(_ bytes: [UInt8], now: Int64, delay: Int64 = 0) {
        guard !bytes.isEmpty else { return }
        compact()
        let size = min(slice ?? Int.max, rate.map { max(1, $0 / 20) } ?? Int.max)
        var due = max(now + max(0, delay), lastDue)
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + size)
            if let rate { due += Int64(end - start) * 1_000_000_000 / Int64(rate) }
            queue.append(Write(bytes: Array(bytes[start..<end]), due: due))
            start = end
        }
        lastDue = due
        queuedBytes += bytes.count
    }

    /// The writes due at `now`, in order; they leave the outbox.
    public mutating func takeDue(now: Int64) -> [[UInt8]] {
        var due: [[UInt8]] = []
        while head < queue.count, queue[head].due <= now {
            due.append(queue[head].bytes)
            queuedBytes -= queue[head].bytes.count
            head += 1
        }
        return due
    }

    /// Forgets what waits (the client is gone).
    public mutating func discard() {
        queue.removeAll()
        head = 0
        queuedBytes = 0
    }

    private mutating func compact() {
        guard head > 0, head * 2 >= queue.count else { return }
        queue.removeFirst(head)
        head = 0
    }
}
