/// One direction of a TCP connection being put back in order.
///
/// Positions are byte offsets from the first data byte (the byte after the SYN, or the first
/// segment seen when the capture started mid-connection). They are 64-bit, so wraparound of
/// the 32-bit sequence space is gone before any comparison happens.
struct HalfStream {
    /// A segment held back because bytes before it have not arrived yet.
    struct PendingChunk {
        var offset: Int64
        var bytes: [UInt8]
        /// Length on the wire; bytes beyond `bytes.count` were cut by the snap length.
        var wireLength: Int
        var end: Int64 { offset + Int64(wireLength) }
    }

    /// A recently delivered chunk, kept to compare retransmissions against.
    struct DeliveredChunk {
        var offset: Int64
        var bytes: [UInt8]
    }

    /// What a half-stream hands back: the connection turns these into session events.
    enum Output {
        case data([UInt8])
        case gap(Int)
        /// The direction's FIN, once every byte before it was delivered.
        case fin
        /// The direction's sender reset the connection.
        case reset
        case overlapDiffers(at: Int64, length: Int)
    }

    private(set) var unwrapper: SequenceUnwrapper?
    /// Unwrapped sequence number of offset 0.
    private(set) var base: Int64 = 0
    /// The next offset to deliver.
    private(set) var next: Int64 = 0
    /// The initial sequence number, when the SYN was captured.
    private(set) var isn: UInt32?
    private(set) var finOffset: Int64?
    /// A close (FIN or RST) has been handed out.
    private(set) var closed = false
    /// Where this direction's RST sat. The direction is closed (its `reset` is out), but
    /// data captured after the RST is still taken.
    private(set) var resetOffset: Int64?
    private var pending: [PendingChunk] = []
    private var pendingBytes = 0
    private var recent: [DeliveredChunk] = []
    private var recentBytes = 0

    static let recentChunkLimit = 4
    static let recentByteLimit = 64 * 1024

    var hasPending: Bool { !pending.isEmpty }
    /// Nothing more is expected: closed, and after a RST, every byte before it delivered.
    var isDone: Bool { closed && pending.isEmpty && next >= (resetOffset ?? next) }
    var hasStarted: Bool { unwrapper != nil }

    /// Fixes offset 0 from the first segment this direction sends.
    mutating func start(sequence: UInt32, syn: Bool) {
        // A SYN seen after stray packets (a challenge ACK, a late segment of an older connection)
        // still fixes offset 0, as long as nothing has been taken at the old one.
        let restart = syn && isn == nil && next == 0 && pending.isEmpty
        guard unwrapper == nil || restart else { return }
        unwrapper = SequenceUnwrapper(first: sequence)
        base = Int64(sequence) + (syn ? 1 : 0)
        if syn { isn = sequence }
    }

    /// The stream offset of `sequence` (of the first payload byte when `syn` is set).
    mutating func offset(of sequence: UInt32, syn: Bool) -> Int64 {
        guard var unwrapper else { return 0 }
        let position = unwrapper.unwrap(sequence) + (syn ? 1 : 0)
        self.unwrapper = unwrapper
        return position - base
    }

    /// The highest stream offset a segment of this direction has reached.
    var highestOffset: Int64 { (unwrapper?.highest ?? base) - base }

    /// The stream offset an acknowledgment number points at, without moving the window.
    func offset(acknowledging number: UInt32) -> Int64? {
        guard let unwrapper else { return nil }
        return unwrapper.peek(number) - base
    }

    /// Takes the payload of one segment at `offset`.
    mutating func receive(
        offset: Int64, bytes: [UInt8], wireLength: Int, bufferLimit: Int,
        statistics: inout ReassemblyStatistics, into output: inout [Output]
    ) {
        guard wireLength > 0 else { return }
        var chunk = PendingChunk(offset: offset, bytes: bytes, wireLength: wireLength)
        // After a FIN nothing more is taken. After a RST data still is, as Wireshark's follow
        // does: bytes sent before the RST and captured after it, and bytes past it (a RST
        // injected by a middlebox leaves the real sender going on).
        if closed, resetOffset == nil { return }
        if chunk.end <= next {
            statistics.retransmissions += 1
            compareWithRecent(chunk, into: &output, statistics: &statistics)
            return
        }
        if chunk.offset < next {
            statistics.retransmissions += 1
            compareWithRecent(chunk, into: &output, statistics: &statistics)
            chunk = Self.trimmed(chunk, to: next)
        }
        if chunk.offset > next {
            statistics.outOfOrder += 1
            hold(chunk, statistics: &statistics, into: &output)
            if pendingBytes > bufferLimit, let first = pending.first {
                // The hole before the buffered data is not going to be filled soon enough: say so and move on.
                statistics.bufferOverflows += 1
                emitGap(upTo: first.offset, statistics: &statistics, into: &output)
                drain(statistics: &statistics, into: &output)
            }
            return
        }
        deliver(chunk, statistics: &statistics, into: &output)
        drain(statistics: &statistics, into: &output)
    }

    /// Notes the FIN, which sits at `offset` (after the segment's payload).
    mutating func receiveFin(at offset: Int64, into output: inout [Output]) {
        if finOffset == nil { finOffset = offset }
        closeIfComplete(into: &output)
    }

    /// The peer acknowledged everything before `offset`. Bytes it acknowledged that the capture
    /// never held are lost for good; when data waits behind them, declare the gap now.
    mutating func acknowledged(upTo offset: Int64, statistics: inout ReassemblyStatistics, into output: inout [Output]) {
        guard !closed || resetOffset != nil, offset > next, let first = pending.first, first.offset > next else { return }
        emitGap(upTo: min(offset, first.offset), statistics: &statistics, into: &output)
        drain(statistics: &statistics, into: &output)
    }

    /// The sender reset the connection with a RST at `offset`: the direction closes now. What
    /// it holds stays held, since the bytes before the RST may still arrive (out of order).
    mutating func reset(at offset: Int64, into output: inout [Output]) {
        guard !closed else { return }
        closed = true
        resetOffset = max(offset, next)
        output.append(.reset)
    }

    /// The connection is over: delivers everything held, declaring a gap for each hole, then
    /// the FIN if one was seen (after a RST, the close is out already).
    mutating func flush(statistics: inout ReassemblyStatistics, into output: inout [Output]) {
        guard !closed || resetOffset != nil else { return }
        while let first = pending.first {
            if first.offset > next { emitGap(upTo: first.offset, statistics: &statistics, into: &output) }
            drain(statistics: &statistics, into: &output)
        }
        guard !closed else { return }
        if let finOffset, finOffset > next { emitGap(upTo: finOffset, statistics: &statistics, into: &output) }
        closeIfComplete(into: &output)
    }

    /// Drops buffers once the connection is over.
    mutating func release() {
        pending = []
        pendingBytes = 0
        recent = []
        recentBytes = 0
    }

    // MARK: - Internals

    private mutating func closeIfComplete(into output: inout [Output]) {
        guard !closed, let finOffset, next >= finOffset, pending.isEmpty else { return }
        closed = true
        output.append(.fin)
    }

    private mutating func emitGap(upTo offset: Int64, statistics: inout ReassemblyStatistics, into output: inout [Output]) {
        guard offset > next else { return }
        let size = offset - next
        statistics.gaps += 1
        statistics.gapBytes += size
        output.append(.gap(Int(clamping: size)))
        next = offset
    }

    private mutating func deliver(_ chunk: PendingChunk, statistics: inout ReassemblyStatistics, into output: inout [Output]) {
        if !chunk.bytes.isEmpty {
            output.append(.data(chunk.bytes))
            recent.append(DeliveredChunk(offset: chunk.offset, bytes: chunk.bytes))
            recentBytes += chunk.bytes.count
            while recent.count > Self.recentChunkLimit || (recentBytes > Self.recentByteLimit && recent.count > 1) {
                recentBytes -= recent.removeFirst().bytes.count
            }
        }
        if chunk.wireLength > chunk.bytes.count {
            // The snap length cut this segment: the rest was on the wire but not in the file.
            let missing = chunk.wireLength - chunk.bytes.count
            statistics.gaps += 1
            statistics.gapBytes += Int64(missing)
            output.append(.gap(missing))
        }
        next = chunk.end
    }

    /// Delivers held chunks that have become contiguous.
    private mutating func drain(statistics: inout ReassemblyStatistics, into output: inout [Output]) {
        var used = 0
        while used < pending.count, pending[used].offset <= next {
            let chunk = pending[used]
            used += 1
            pendingBytes -= chunk.bytes.count
            if chunk.end <= next {
                compareWithRecent(chunk, into: &output, statistics: &statistics)
                continue
            }
            if chunk.offset < next {
                compareWithRecent(chunk, into: &output, statistics: &statistics)
            }
            deliver(Self.trimmed(chunk, to: next), statistics: &statistics, into: &output)
        }
        if used > 0 { pending.removeFirst(used) }
        closeIfComplete(into: &output)
    }

    /// Inserts into the sorted out-of-order list; an exact duplicate is compared and dropped.
    private mutating func hold(_ chunk: PendingChunk, statistics: inout ReassemblyStatistics, into output: inout [Output]) {
        var low = 0, high = pending.count
        while low < high {
            let middle = (low + high) / 2
            if pending[middle].offset < chunk.offset { low = middle + 1 } else { high = middle }
        }
        if low < pending.count, pending[low].offset == chunk.offset, pending[low].wireLength >= chunk.wireLength {
            statistics.retransmissions += 1
            if !Self.agree(pending[low].offset, pending[low].bytes, chunk.offset, chunk.bytes) {
                statistics.overlapsDiffering += 1
                output.append(.overlapDiffers(at: chunk.offset, length: chunk.bytes.count))
            }
            return
        }
        pending.insert(chunk, at: low)
        pendingBytes += chunk.bytes.count
    }

    private func compareWithRecent(_ chunk: PendingChunk, into output: inout [Output], statistics: inout ReassemblyStatistics) {
        for delivered in recent where !Self.agree(delivered.offset, delivered.bytes, chunk.offset, chunk.bytes) {
            statistics.overlapsDiffering += 1
            output.append(.overlapDiffers(at: max(delivered.offset, chunk.offset), length: chunk.bytes.count))
            return
        }
    }

    /// Whether two byte runs agree where they overlap.
    static func agree(_ offsetA: Int64, _ bytesA: [UInt8], _ offsetB: Int64, _ bytesB: [UInt8]) -> Bool {
        let start = max(offsetA, offsetB)
        let end = min(offsetA + Int64(bytesA.count), offsetB + Int64(bytesB.count))
        guard end > start else { return true }
        let length = Int(end - start)
        return bytesA.withUnsafeBytes { a in
            bytesB.withUnsafeBytes { b in
                guard let pa = a.baseAddress, let pb = b.baseAddress else { return true }
                return memcmp(pa + Int(start - offsetA), pb + Int(start - offsetB), length) == 0
            }
        }
    }

    private static func trimmed(_ chunk: PendingChunk, to offset: Int64) -> PendingChunk {
        guard offset > chunk.offset else { return chunk }
        let cut = Int(offset - chunk.offset)
        let bytes = cut >= chunk.bytes.count ? [] : Array(chunk.bytes[cut...])
        return PendingChunk(offset: offset, bytes: bytes, wireLength: chunk.wireLength - cut)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
