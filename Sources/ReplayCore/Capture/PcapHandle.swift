import CPcap

/// One packet as libpcap hands it over. `bytes` points into libpcap's buffer and is valid only
/// until the next read: copy what must outlive it.
public struct CapturedPacket {
    /// Capture time, nanoseconds since the epoch.
    public var timestamp: Int64
    /// Length on the wire.
    public var wireLength: Int
    /// The captured bytes (at most the snap length).
    public var bytes: UnsafeRawBufferPointer
}

/// Owns a libpcap handle for a capture file (or a live interface) and closes it when released.
public final class PcapHandle {
    /// The result of one read.
    public enum ReadResult {
        case packet
        case endOfFile
        /// A live capture's read timed out with nothing to hand over.
        case timeout
    }

    private let handle: OpaquePointer
    /// The file or interface name, for messages.
    public let name: String
    /// Packets read so far.
    public private(set) var packetsRead = 0

    /// Opens a pcap or pcapng file with nanosecond timestamps.
    public init(offlinePath path: String) throws(CaptureError) {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        if path == "-" {
            // libpcap's name for standard input.
            guard let opened = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer) else {
                throw .cannotOpen(path: path, reason: Self.string(errorBuffer))
            }
            handle = opened
            name = path
            return
        }
        // Opened here rather than by libpcap so the stream gets a large buffer before its first
        // read: stdio's default of 4 KiB costs one read(2) per 4 KiB, 80 000 of them for a 340 MB file.
        guard let file = fopen(path, "rb") else {
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        _ = setvbuf(file, nil, _IOFBF, Self.readBufferSize)
        guard let opened = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer) else {
            fclose(file)
            var reason = Self.string(errorBuffer)
            if CaptureFileKind.isFormatComplaint(reason), CaptureFileKind.sniff(path: path) == .cassette {
                reason += "; it is a replayd cassette already, which replay, show and export read as it is"
            }
            throw .cannotOpen(path: path, reason: reason)
        }
        handle = opened
        name = path
    }

    /// The stdio buffer for capture files.
    static let readBufferSize = 1 << 20

    /// Wraps a handle opened elsewhere (live capture); this object closes it.
    init(adopting handle: OpaquePointer, name: String) {
        self.handle = handle
        self.name = name
    }

    deinit { pcap_close(handle) }

    /// The DLT link type (`pcap_datalink`).
    public var linkType: Int32 { pcap_datalink(handle) }

    /// libpcap's name for the link type, e.g. `EN10MB`.
    public var linkTypeName: String { Self.linkTypeName(linkType) }

    public static func linkTypeName(_ linkType: Int32) -> String {
        guard let name = pcap_datalink_val_to_name(linkType) else { return "DLT \(linkType)" }
        return String(cString: name)
    }

    /// How far into the file libpcap has read, for progress; nil for live captures.
    public var fileOffset: Int? {
        guard let file = pcap_file(handle) else { return nil }
        let offset = ftell(file)
        return offset >= 0 ? offset : nil
    }

    /// Compiles `filter` (tcpdump syntax) and applies it.
    public func setFilter(_ filter: String) throws(CaptureError) {
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw .badFilter(filter: filter, reason: lastError)
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else {
            throw .badFilter(filter: filter, reason: lastError)
        }
    }

    /// Reads the next packet and passes it to `body` (the bytes are valid only inside `body`).
    public func next(_ body: (CapturedPacket) throws -> Void) throws -> ReadResult {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let result = pcap_next_ex(handle, &header, &data)
        switch result {
        case 1:
            guard let header, let data else { return .timeout }
            packetsRead += 1
            let pkthdr = header.pointee
            // With PCAP_TSTAMP_PRECISION_NANO, tv_usec holds nanoseconds.
            let timestamp = Int64(pkthdr.ts.tv_sec) * 1_000_000_000 + Int64(pkthdr.ts.tv_usec)
            let packet = CapturedPacket(
                timestamp: timestamp, wireLength: Int(pkthdr.len),
                bytes: UnsafeRawBufferPointer(start: data, count: Int(pkthdr.caplen)))
            try body(packet)
            return .packet
        case 0:
            return .timeout
        case -2:
            return .endOfFile
        default:
            throw CaptureError.readFailed(path: name, packetsRead: packetsRead, reason: lastError)
        }
    }

    /// Makes a blocked read return (from a signal handler's task, for live capture).
    public func breakLoop() { pcap_breakloop(handle) }

    /// libpcap's message for the last failure.
    public var lastError: String {
        guard let message = pcap_geterr(handle) else { return "unknown libpcap error" }
        return String(cString: message)
    }

    var rawHandle: OpaquePointer { handle }

    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
