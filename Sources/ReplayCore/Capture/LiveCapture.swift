import CPcap
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An activated libpcap handle on a live interface, set up for a recorder that must never hang:
/// immediate mode (each packet is handed over at once), non-blocking reads, and a descriptor
/// to poll next to a stop request.
public final class LiveCapture {
    /// How to open the interface.
    public struct Options: Sendable {
        public var interface: String
        /// tcpdump-style filter, compiled by libpcap; empty captures everything.
        public var filter: String
        /// Bytes kept of each packet: 262144 keeps whole packets, even 64 KB GRO/TSO super-segments.
        public var snapLength: Int32 = 262_144
        /// The kernel ring buffer: room for bursts while the recorder writes the cassette.
        public var bufferSize: Int32 = 16 << 20
        /// Whether to ask for promiscuous mode (off: a recorder wants this host's traffic).
        public var promiscuous = false

        public init(interface: String, filter: String = "") {
            self.interface = interface
            self.filter = filter
        }
    }

    /// What libpcap counted since activation (`pcap_stats`).
    public struct Statistics: Sendable, Equatable {
        /// Packets the kernel saw that passed the filter (platform-dependent, see pcap_stats(3PCAP)).
        public var received: UInt32
        /// Packets dropped because the buffer was full: the recorder did not keep up.
        public var dropped: UInt32
        /// Packets the interface or its driver dropped.
        public var interfaceDropped: UInt32
    }

    public let options: Options
    /// Things libpcap warned about while activating (the capture runs anyway).
    public let warnings: [String]
    /// Whether timestamps come with nanosecond precision (else microseconds).
    public let nanosecondTimestamps: Bool
    /// The descriptor to poll for packets; nil where libpcap offers none (the loop then polls on a timer).
    let selectableDescriptor: Int32?
    let handle: PcapHandle
    /// Packets handed over so far.
    public private(set) var packetsRead = 0

    /// Opens and activates the interface, applies the filter, and switches to non-blocking reads.
    public init(options: Options) throws {
        self.options = options
        let interface = options.interface
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let created = pcap_create(interface, &errorBuffer) else {
            throw LiveCaptureError.cannotActivate(interface: interface, reason: PcapHandle.string(errorBuffer))
        }
        // Owned from here on, so every early exit closes it.
        let handle = PcapHandle(adopting: created, name: interface)
        self.handle = handle
        let raw = handle.rawHandle
        _ = pcap_set_snaplen(raw, options.snapLength)
        _ = pcap_set_promisc(raw, options.promiscuous ? 1 : 0)
        _ = pcap_set_immediate_mode(raw, 1)
        _ = pcap_set_buffer_size(raw, options.bufferSize)
        // Only matters where immediate mode is missing: bounds how long a packet can wait.
        _ = pcap_set_timeout(raw, 50)
        let nano = pcap_set_tstamp_precision(raw, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0

        let status = pcap_activate(raw)
        if status < 0 { throw Self.activationError(status, interface: interface, handle: handle) }
        var warnings: [String] = []
        if status > 0 { warnings.append(Self.activationWarning(status, interface: interface, handle: handle)) }
        nanosecondTimestamps = nano && pcap_get_tstamp_precision(raw) == Int32(PCAP_TSTAMP_PRECISION_NANO)

        let linkType = handle.linkType
        guard LinkLayerDecoder.isSupported(linkType) else {
            throw LiveCaptureError.unsupportedLinkType(interface: interface, linkType: linkType, name: handle.linkTypeName)
        }
        if !options.filter.isEmpty { try handle.setFilter(options.filter) }
        guard pcap_setnonblock(raw, 1, &errorBuffer) == 0 else {
            throw LiveCaptureError.cannotActivate(interface: interface, reason: "cannot switch to non-blocking reads: \(PcapHandle.string(errorBuffer))")
        }
        let descriptor = pcap_get_selectable_fd(raw)
        selectableDescriptor = descriptor >= 0 ? descriptor : nil
        self.warnings = warnings
    }

    /// The link type, by libpcap's name (e.g. `EN10MB`).
    public var linkTypeName: String { handle.linkTypeName }

    /// Reads one packet if one is waiting and passes it to `body` (its bytes are valid only
    /// inside `body`). Returns false when none is waiting; never blocks.
    func readPacket(_ body: (CapturedPacket) -> Void) throws(LiveCaptureError) -> Bool {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        switch pcap_next_ex(handle.rawHandle, &header, &data) {
        case 1:
            guard let header, let data else { return false }
            packetsRead += 1
            let pkthdr = header.pointee
            // With nanosecond precision libpcap puts nanoseconds in tv_usec.
            let fraction = Int64(pkthdr.ts.tv_usec) * (nanosecondTimestamps ? 1 : 1000)
            body(CapturedPacket(
                timestamp: Int64(pkthdr.ts.tv_sec) * 1_000_000_000 + fraction,
                wireLength: Int(pkthdr.len),
                bytes: UnsafeRawBufferPointer(start: data, count: Int(pkthdr.caplen))))
            return true
        case 0, PCAP_ERROR_BREAK:
            return false
        default:
            throw .readFailed(interface: options.interface, packetsRead: packetsRead, reason: handle.lastError)
        }
    }

    /// libpcap's counts, or nil where the platform has none.
    public func statistics() -> Statistics? {
        var stats = pcap_stat()
        guard pcap_stats(handle.rawHandle, &stats) == 0 else { return nil }
        return Statistics(received: stats.ps_recv, dropped: stats.ps_drop, interfaceDropped: stats.ps_ifdrop)
    }

    /// Maps a negative `pcap_activate` status to an error a user can act on.
    static func activationError(_ status: Int32, interface: String, handle: PcapHandle) -> LiveCaptureError {
        // libpcap fills in pcap_geterr for these three; the others only have the status text.
        let detail = [PCAP_ERROR, PCAP_ERROR_NO_SUCH_DEVICE, PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED].contains(status)
            ? handle.lastError : String(cString: pcap_statustostr(status))
        let reason = detail.isEmpty ? String(cString: pcap_statustostr(status)) : detail
        switch status {
        case PCAP_ERROR_NO_SUCH_DEVICE:
            return .noSuchInterface(interface: interface, available: availableInterfaces(), reason: reason)
        case PCAP_ERROR_PERM_DENIED:
            return .permissionDenied(interface: interface, reason: reason)
        case PCAP_ERROR_PROMISC_PERM_DENIED:
            return .promiscuousPermissionDenied(interface: interface, reason: reason)
        case PCAP_ERROR_IFACE_NOT_UP:
            return .interfaceDown(interface: interface, reason: reason)
        default:
            return .cannotActivate(interface: interface, reason: reason)
        }
    }

    static func activationWarning(_ status: Int32, interface: String, handle: PcapHandle) -> String {
        let detail = handle.lastError
        switch status {
        case PCAP_WARNING_PROMISC_NOTSUP:
            return "\(interface) does not support promiscuous mode; capturing without it (libpcap: \(detail))"
        case PCAP_WARNING_TSTAMP_TYPE_NOTSUP:
            return "\(interface) does not support the requested timestamp type; using the default (libpcap: \(detail))"
        default:
            return "libpcap warns about \(interface): \(detail.isEmpty ? String(cString: pcap_statustostr(status)) : detail)"
        }
    }

    /// The interface names libpcap can capture on, for the "no such interface" message.
    static func availableInterfaces() -> [String] {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        var first: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&first, &errorBuffer) == 0 else { return [] }
        defer { pcap_freealldevs(first) }
        var names: [String] = []
        var cursor = first
        while let device = cursor, names.count < 64 {
            names.append(String(cString: device.pointee.name))
            cursor = device.pointee.next
        }
        return names
    }
}
