#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a file's first bytes say it is, so that a capture given where a cassette belongs (or a
/// cassette given to `import`) gets an error that says what to run instead.
public enum CaptureFileKind: String, Sendable, Equatable {
    case pcap = "a pcap capture"
    case pcapng = "a pcapng capture"
    case cassette = "a replayd cassette"

    /// The kind of the file at `path`, from its first four bytes; `nil` when it is none of these
    /// or cannot be read.
    public static func sniff(path: String) -> CaptureFileKind? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        let count = magic.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4, 0) }
        guard count == 4 else { return nil }
        return kind(of: magic)
    }

    /// The kind the first bytes of a file show.
    public static func kind(of magic: [UInt8]) -> CaptureFileKind? {
        guard magic.count >= 4 else { return nil }
        let head = Array(magic.prefix(4))
        // Classic pcap, microsecond and nanosecond timestamps, either byte order.
        let pcapMagics: [[UInt8]] = [[0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d]]
        if pcapMagics.contains(head) { return .pcap }
        // pcapng's Section Header Block type.
        if head == [0x0a, 0x0d, 0x0d, 0x0a] { return .pcapng }
        // A cassette header line: {"format":"replayd-cassette",...}
        if head == Array(#"{"fo"#.utf8) { return .cassette }
        return nil
    }

    /// Whether libpcap's reason for not opening a file says the file is not a capture (rather
    /// than that it could not be read).
    public static func isFormatComplaint(_ reason: String) -> Bool {
        let text = reason.lowercased()
        return text.contains("format") || text.contains("truncated") || text.contains("bad dump file") || text.contains("magic")
    }
}
