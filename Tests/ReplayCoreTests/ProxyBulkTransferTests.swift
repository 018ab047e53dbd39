import Foundation
import Synchronization
import Testing
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// A fast order-sensitive checksum (FNV-style over 64-bit words, then the tail bytes).
struct StreamChecksum {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    private(set) var count = 0
    private var tail: [UInt8] = []

    mutating func add(_ bytes: [UInt8]) {
        var input = tail + bytes
        let whole = input.count / 8 * 8
        input.withUnsafeBytes { raw in
            var index = 0
            while index < whole {
                value = (value ^ raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0x0000_0100_0000_01b3
                index += 8
            }
        }
        tail = Array(input[whole...])
        count += bytes.count
        input.removeAll()
    }

    var final: UInt64 {
        var result = value
        for byte in tail { result = (result ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return result ^ UInt64(count)
    }
}

/// Resident set size of this process, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

extension HeavyTests {
@Suite("ProxyBulkTransfer", .timeLimit(.minutes(2)))
struct ProxyBulkTransferTests {
    @Test("100 MB pass byte-exact to a slow reader and into the cassette, with bounded bytes in flight and memory")
    func hundredMegabytes() async throws {
        let blockSize = 1 << 20
        let blocks = 100
        var generator = SystemRandomNumberGenerator()
        let baseBlock = (0..<blockSize).map { _ in UInt8.random(in: 0...255, using: &generator) }
        @Sendable func block(_ index: Int) -> [UInt8] {
            var bytes = baseBlock
            bytes[0] = UInt8(index)  // every block differs from the others
            bytes[blockSize / 2] ^= UInt8(truncatingIfNeeded: index &* 31)
            return bytes
        }
        var expected = StreamChecksum()
        for index in 0..<blocks { expected.add(block(index)) }

        let listener = try TestSocket.listen()
        let harness = try await ProxyHarness.start(upstreamPort: listener.port)
        let sent = ProgressCounter()
        let server = Task {
            try await blocking {
                let connection = try listener.accept(timeout: 30)
                for index in 0..<blocks {
                    try connection.send(block(index))
                    sent.add(blockSize)
                }
                connection.shutdownWrite()
                _ = try? connection.receiveSome()
                connection.close()
            }
        }
        let rssBefore = residentBytes()
        let port = harness.port
        let (inFlightWhilePaused, received, peakRSS) = try await blocking { () -> (Int, StreamChecksum, Int) in
            let client = try TestSocket.connect(port: port, timeout: 30)
            // The slow reader: read nothing for a while. Backpressure must stop the proxy from
            // reading the server dry; only socket buffers and a little of the proxy's may fill.
            usleep(1_000_000)
            let inFlight = sent.value
            var checksum = StreamChecksum()
            var peak = residentBytes()
            var reads = 0
            // Then a steady reader at about 60 MB/s, slower than the proxy can forward.
            let started = Date()
            while true {
                let chunk = try client.receiveSome(limit: 256 * 1024)
                if chunk.isEmpty { break }
                checksum.add(chunk)
                reads += 1
                if reads % 64 == 0 { peak = max(peak, residentBytes()) }
                let ahead = Double(checksum.count) / 60e6 - Date().timeIntervalSince(started)
                if ahead > 0 { usleep(useconds_t(ahead * 1e6)) }
            }
            client.close()
            return (inFlight, checksum, peak)
        }
        try await server.value
        #expect(received.count == blocks * blockSize)
        #expect(received.final == expected.final, "the client did not get the server's bytes unchanged")
        // Loopback socket buffers (a few MB each way, autotuned) hold what is in flight; without
        // backpressure the proxy would have read all 100 MB while the reader slept.
        #expect(inFlightWhilePaused < 40 * blockSize, "\(inFlightWhilePaused / blockSize) MB sent while the reader slept")
        let growth = peakRSS - rssBefore
        #expect(growth < 80 * blockSize, "RSS grew by \(growth / blockSize) MB during a 100 MB transfer")

        // The cassette holds the same bytes (streamed, not loaded whole).
        await harness.proxy.stop()
        let report = await harness.recorder.finish()
        #expect(report.isComplete, "\(report)")
        let reader = try CassetteReader(path: harness.cassettePath)
        var recorded = StreamChecksum()
        var kinds: [String] = []
        while let event = try reader.next() {
            switch event.kind {
            case .data(.serverToClient, let bytes): recorded.add(bytes)
            case .data(.clientToServer, _): kinds.append("data c2s")
            case .close(let direction, let how): kinds.append("close \(direction.rawValue) \(how.rawValue)")
            case .end: kinds.append("end")
            default: break
            }
        }
        #expect(recorded.count == blocks * blockSize)
        #expect(recorded.final == expected.final, "the cassette does not hold the server's bytes unchanged")
        #expect(kinds.first == "close s2c fin")
        #expect(kinds.last == "end")
        try? FileManager.default.removeItem(atPath: harness.directory)
    }
}
}

/// A counter shared between a sending thread and the test.
final class ProgressCounter: Sendable {
    private let atomic = Atomic<Int>(0)
    func add(_ amount: Int) { atomic.add(amount, ordering: .relaxed) }
    var value: Int { atomic.load(ordering: .relaxed) }
}
