import Foundation
import Logging
import Testing
@testable import ReplayCore

/// `replayd import` on bad input: clear errors naming the file and quoting libpcap, warnings for
/// truncated captures, no half-written cassette, and no crash on mangled packets.
@Suite("Import errors")
struct ImportErrorTests {
    static let capture = TestPaths.fixture("captures/http-snaplen96-zeek.pcap")

    func runImport(_ arguments: [String]) async throws -> (status: Int32, stderr: String) {
        let process = try ChildProcess(TestPaths.replayd, ["import"] + arguments)
        let status = try await process.wait(timeout: 30)
        return (status, process.stderr)
    }

    @Test("a bad filter is an error quoting libpcap")
    func badFilter() async throws {
        let directory = try TestPaths.temporaryDirectory("import-err")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await runImport([Self.capture, "-o", "\(directory)/out.cassette", "tcp", "port", "banana"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("replayd: error: bad capture filter \"tcp port banana\": unknown port 'banana'"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test("a file that is not a capture is an error naming it")
    func notACapture() async throws {
        let directory = try TestPaths.temporaryDirectory("import-err")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bogus = "\(directory)/notes.pcap"
        try Data("this is not a capture\n".utf8).write(to: URL(fileURLWithPath: bogus))
        let result = try await runImport([bogus, "-o", "\(directory)/out.cassette"])
        #expect(result.status == 65)
        #expect(result.stderr.contains("replayd: error: \(bogus): cannot read capture: unknown file format"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/out.cassette"))
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/out.cassette.partial"))

        let missing = try await runImport(["\(directory)/nope.pcap", "-o", "\(directory)/out.cassette"])
        #expect(missing.status == 74)
        #expect(missing.stderr.contains("nope.pcap: cannot read capture: "), "\(missing.stderr)")
    }

    @Test("a capture of an unsupported link type is an error naming the link type")
    func unsupportedLinkType() async throws {
        let directory = try TestPaths.temporaryDirectory("import-err")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/wifi.pcap"
        try Self.classicPcap(linkType: 105, packets: [[0x08, 0x02, 0x00, 0x00]]).write(to: URL(fileURLWithPath: path))
        let result = try await runImport([path, "-o", "\(directory)/out.cassette"])
        #expect(result.status == 65)
        #expect(result.stderr.contains("link type IEEE802_11 (105) is not supported"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/out.cassette"))
    }

    @Test("a capture cut inside a packet imports every complete packet and warns")
    func truncated() async throws {
        let directory = try TestPaths.temporaryDirectory("import-err")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = "\(directory)/out.cassette"
        let result = try await runImport([TestPaths.fixture("captures/smtp-auth-zeek-cut-midpacket.pcap"), "-o", output])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("warning:"))
        #expect(result.stderr.contains("cut short after packet 35"))
        #expect(result.stderr.contains("libpcap: truncated dump file; tried to read 1506 captured bytes, only got 700"), "\(result.stderr)")
        let cassette = try Cassette.load(path: output)
        #expect(cassette.sessions.count == 1)
        #expect(cassette.sessions.first?.bytes(.clientToServer).starts(with: Array("EHLO".utf8)) == true)
    }

    @Test("pcapng with interfaces of different snap lengths fails cleanly with libpcap's message")
    func unreadablePcapng() async throws {
        let directory = try TestPaths.temporaryDirectory("import-err")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await runImport([TestPaths.fixture("captures/pcapng-126idb-ldap-gap-zeek.pcapng"), "-o", "\(directory)/out.cassette"])
        #expect(result.status == 65)
        #expect(result.stderr.contains("reading failed after 0 packets: an interface has a snapshot length 8192 different"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test("mangled packets never crash the decoder or the reassembler")
    func mangledPackets() throws {
        var random = SplitMix64(seed: 0x5eed)
        var frames: [(Int32, [UInt8])] = []
        for name in ImportFixtures.captures {
            let handle = try PcapHandle(offlinePath: TestPaths.fixture("captures/\(name)"))
            let linkType = handle.linkType
            while case .packet = (try? handle.next { frames.append((linkType, Array($0.bytes))) }) ?? .endOfFile {}
        }
        #expect(frames.count > 200)
        var reassembler = TCPReassembler(configuration: .init(bufferLimit: 4096))
        var events: [SessionEvent] = []
        var decoded = 0
        for (linkType, frame) in frames {
            let decoder = PacketDecoder(linkType: linkType)
            for _ in 0..<50 {
                var mangled = frame
                // Cut it anywhere, then scribble over header bytes.
                mangled.removeLast(Int(random.next() % UInt64(mangled.count + 1)))
                for _ in 0..<Int(random.next() % 4) where !mangled.isEmpty {
                    let index = Int(random.next() % UInt64(min(mangled.count, 80)))
                    mangled[index] = UInt8(truncatingIfNeeded: random.next())
                }
                let result = mangled.withUnsafeBytes { decoder.decode($0, timestamp: Int64(random.next() % 1_000_000_000_000)) }
                if case .segment(let segment) = result {
                    decoded += 1
                    #expect(segment.payload.count <= segment.wireLength)
                    reassembler.segment(segment, into: &events)
                }
            }
        }
        events += reassembler.finish()
        #expect(decoded > 0)
        #expect(events.contains { if case .end = $0.kind { true } else { false } })
    }

    /// A classic little-endian pcap file with microsecond timestamps.
    static func classicPcap(linkType: UInt32, packets: [[UInt8]]) -> Data {
        var data = Data()
        func le32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        func le16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        le32(0xa1b2_c3d4); le16(2); le16(4); le32(0); le32(0); le32(65535); le32(linkType)
        for (index, packet) in packets.enumerated() {
            le32(UInt32(1_700_000_000 + index)); le32(0); le32(UInt32(packet.count)); le32(UInt32(packet.count))
            data.append(contentsOf: packet)
        }
        return data
    }
}
