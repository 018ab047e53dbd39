#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a classic pcap file with nanosecond timestamps (magic `0xa1b23c4d`, little-endian),
/// the format every version of Wireshark, tshark and tcpdump reads.
///
/// Nanoseconds because cassettes imported from pcapng or nanosecond pcaps carry them.
public final class PcapFileWriter {
    /// Link-layer header types from the tcpdump.org list.
    public enum LinkType: UInt32, Sendable {
        case ethernet = 1
        case raw = 101
    }

    public static let nanosecondMagic: UInt32 = 0xa1b2_3c4d
    public let path: String
    public let snapLength: UInt32
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20
    /// Packets written so far.
    public private(set) var packetCount = 0

    /// Creates (or truncates) the file, mode 0600 like a cassette (it holds the same bytes),
    /// and writes the file header.
    public init(path: String, linkType: LinkType = .ethernet, snapLength: UInt32 = 262_144) throws(ExportError) {
        self.path = path
        self.snapLength = snapLength
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        descriptor = fd
        buffer.reserveCapacity(bufferLimit + 70_000)
        appendLittleEndian(Self.nanosecondMagic)
        appendLittleEndian(UInt16(2))
        appendLittleEndian(UInt16(4))
        appendLittleEndian(UInt32(0))  // thiszone: timestamps are UTC
        appendLittleEndian(UInt32(0))  // sigfigs
        appendLittleEndian(snapLength)
        appendLittleEndian(linkType.rawValue)
    }

    deinit {
        if descriptor >= 0 { _ = close(descriptor) }
    }

    /// Appends one packet. Times before 1970 are written as 1970 (the format cannot hold them).
    public func write(time: WallClock, packet: [UInt8]) throws(ExportError) {
        let nanoseconds = max(0, time.nanosecondsSinceEpoch)
        let captured = min(packet.count, Int(snapLength))
        appendLittleEndian(UInt32(truncatingIfNeeded: nanoseconds / 1_000_000_000))
        appendLittleEndian(UInt32(nanoseconds % 1_000_000_000))
        appendLittleEndian(UInt32(captured))
        appendLittleEndian(UInt32(packet.count))
        buffer.append(contentsOf: packet[0..<captured])
        packetCount += 1
        if buffer.count >= bufferLimit { try flush() }
    }

    /// Writes everything buffered and closes the file.
    public func finish() throws(ExportError) {
        try flush()
        _ = close(descriptor)
        descriptor = -1
    }

    private func flush() throws(ExportError) {
        var written = 0
        while written < buffer.count {
            let result = buffer.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
            }
            written += result
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }
}

/// The POSIX `write`, named apart from `PcapFileWriter.write(time:packet:)`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
