#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Testing
@testable import ReplayCore

/// A recorded download big enough that queuing all of it would show: 1,000 chunks of 64 KiB
/// (62.5 MiB), 1 ms apart, after a one-line request, then the server's FIN.
private enum BigDownload {
    static let request = Array("GET /big HTTP/1.0\r\n\r\n".utf8)
    static let chunkCount = 1000
    static let chunkSize = 64 * 1024
    static let delay: Int64 = 1_000_000
    static var totalBytes: Int { chunkCount * chunkSize }

    /// Chunk `index`: its index in the first 8 bytes, then a byte that differs from its
    /// neighbours', so a lost, repeated or reordered chunk cannot compare equal.
    static func chunk(_ index: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: chunkSize) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            memset(raw.baseAddress!, Int32(truncatingIfNeeded: index &* 37 &+ 11) & 0xFF, chunkSize)
            raw.storeBytes(of: UInt64(index).littleEndian, toByteOffset: 0, as: UInt64.self)
            count = chunkSize
        }
    }

    static func session() -> Session {
        let open = SessionOpen(client: "127.0.0.1:40000", server: "127.0.0.1:80", start: WallClock(nanosecondsSinceEpoch: 1_700_000_000_000_000_000))
        var events = [
            SessionEvent(session: 1, offset: 0, kind: .open(open)),
            SessionEvent(session: 1, offset: 100_000, kind: .data(.clientToServer, request)),
        ]
        for index in 0..<chunkCount {
            let offset = 100_000 + Int64(index + 1) * delay
            events.append(SessionEvent(session: 1, offset: offset, kind: .data(.serverToClient, chunk(index))))
        }
        let end = 100_000 + Int64(chunkCount + 1) * delay
        events.append(SessionEvent(session: 1, offset: end, kind: .close(.serverToClient, .fin)))
        events.append(SessionEvent(session: 1, offset: end, kind: .end))
        return Session(id: 1, open: open, events: events)
    }
}

/// Resident memory of this process in bytes (Linux), for the report only: other suites run in
/// the same process at the same time, so it is not asserted on.
private func processResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kilobytes * 1024
}

/// What one stalled download showed.
private struct StalledDownload {
    /// Most bytes queued in NIO at once up to the end of the stall, and over the whole download.
    var stallPeak: Int
    var peak: Int
    var queuedAtEnd: Int
    var count: Int
    var end: ReplayTestClient.Read
    /// The first chunk that differs from the recording, if any.
    var firstBadChunk: Int?
    /// Seconds from the end of the stall until the FIN.
    var readSeconds: Double

    /// Replays `BigDownload` to a client that sends the request, reads nothing for `stall`
    /// seconds, then reads everything as fast as it can.
    static func run(options: ReplayOptions, stall: Double) async throws -> StalledDownload {
        let server = try await ReplayServer.start(
            host: "127.0.0.1", port: 0,
            dispenser: SessionDispenser(sessions: [BigDownload.session()], loop: false),
            options: options,
            logger: Logger(label: "replay-backpressure") { _ in SwiftLogNoOpLogHandler() },
            measuresQueuedOutput: true)
        defer { Task { await server.stop() } }
        let gauge = try #require(server.queuedOutput)
        let client = try ReplayTestClient(port: server.localAddress.port ?? 0)
        client.send(BigDownload.request)

        let rssBefore = processResidentBytes()
        try await Task.sleep(for: .seconds(stall))
        let stallPeak = gauge.peakQueuedBytes
        let rssAfter = processResidentBytes()

        let received = UnsafeMutableRawBufferPointer.allocate(byteCount: BigDownload.totalBytes, alignment: 8)
        defer { received.deallocate() }
        let readStart = ReplayTestClient.now()
        let result = client.readToEnd(into: received, timeout: 20)
        let readSeconds = ReplayTestClient.now() - readStart
        print("""
            backpressure (no-delay \(options.noDelay)): peak queued \(stallPeak) bytes during the \(stall)s stall, \
            \(gauge.peakQueuedBytes) in all; RSS \(rssBefore ?? -1) -> \(rssAfter ?? -1) bytes over the stall; \
            read \(result.count) bytes in \(readSeconds)s after it
            """)

        var firstBadChunk: Int?
        for index in 0..<min(BigDownload.chunkCount, (result.count + BigDownload.chunkSize - 1) / BigDownload.chunkSize) {
            let expected = BigDownload.chunk(index)
            let length = min(BigDownload.chunkSize, result.count - index * BigDownload.chunkSize)
            let same = expected.withUnsafeBytes { memcmp($0.baseAddress!, received.baseAddress! + index * BigDownload.chunkSize, length) == 0 }
            if !same { firstBadChunk = index; break }
        }
        return StalledDownload(stallPeak: stallPeak, peak: gauge.peakQueuedBytes, queuedAtEnd: gauge.queuedBytes,
                               count: result.count, end: result.end, firstBadChunk: firstBadChunk, readSeconds: readSeconds)
    }

    /// (a) every byte in order, then the recorded FIN; (b) what waited in NIO for the stalled
    /// client was about one high water mark (256 KiB) plus the chunk that crossed it, never the
    /// 62.5 MiB left of the session.
    func expectExactAndBounded() {
        #expect(count == BigDownload.totalBytes)
        #expect(end == .eof)
        #expect(firstBadChunk == nil, "chunk \(firstBadChunk ?? -1) differs from the recording")
        let bound = 2 * 1024 * 1024
        #expect(stallPeak > 0, "nothing was ever queued: the gauge does not see the writes")
        #expect(stallPeak < bound, "\(stallPeak) bytes were queued for a client that did not read")
        #expect(peak < bound, "\(peak) bytes were queued at once")
        #expect(queuedAtEnd == 0)
    }
}

extension HeavyTests {
@Suite("ReplayServer backpressure", .serialized)
struct ReplayBackpressureServerTests {
    @Test func aStalledClientCostsOneBufferAndGetsTheRestAtTheRecordedPace() async throws {
        // The recording would have sent all of it during this second.
        let download = try await StalledDownload.run(options: ReplayOptions(), stall: 1)
        download.expectExactAndBounded()
        // After the stall what the kernel buffers held comes at once and the rest at the recorded
        // 1 ms a chunk (about 0.9 s), not as a burst (under 0.1 s here).
        #expect(download.readSeconds > 0.5, "after the stall the rest came in \(download.readSeconds)s: a burst, not the recorded pacing")
    }

    @Test func noDelayToAStalledClientHandsNIOOneChunkAtATime() async throws {
        // Every chunk is due the moment the request is in.
        let download = try await StalledDownload.run(options: ReplayOptions(noDelay: true), stall: 0.3)
        download.expectExactAndBounded()
    }
}
}
