#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a cassette line by line without loading it whole.
///
/// A last line without its newline is what a crash while writing leaves: if it does not parse
/// it is skipped with a warning, and everything before it loads. Any other bad line is an error
/// naming the file and line.
///
/// Forward compatible: an event whose kind this build does not know (a later replayd wrote it)
/// is skipped, with one warning per kind, unless the header's `requires` lists it; a `requires`
/// entry this build does not know stops reading at the header.
public final class CassetteReader {
    public let path: String
    public let header: CassetteHeader
    /// Problems that did not stop reading, for the user to see.
    public private(set) var warnings: [String] = []
    /// The number of the line last returned.
    public private(set) var lineNumber = 1

    private var descriptor: Int32
    private var chunk = [UInt8](repeating: 0, count: 256 * 1024)
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private var atEndOfFile = false
    private let decoder = CassetteDecoder()
    /// Unknown event kinds already warned about.
    private var skippedKinds: Set<String> = []

    /// Opens the file and reads and checks its header.
    public init(path: String) throws(CassetteError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        descriptor = fd
        var firstLine: [UInt8]?
        do {
            firstLine = try Self.readLine(fd: fd, chunk: &chunk, pending: &pending, pendingStart: &pendingStart, atEnd: &atEndOfFile)?.line
        } catch {
            close(fd)
            throw error
        }
        // A capture given where a cassette belongs: say how to make one of it (a pcapng file's
        // first "line" is empty, so this comes before the empty-file check).
        if let kind = CaptureFileKind.sniff(path: path), kind != .cassette {
            close(fd)
            throw .notACassette(path: path, detail: "it is \(kind.rawValue); make a cassette of it first: replayd import \(path) -o \(Self.cassetteName(forCapture: path))")
        }
        guard let line = firstLine, !line.allSatisfy(Self.isWhitespace) else {
            close(fd)
            throw .empty(path: path)
        }
        do {
            header = try decoder.decodeHeader(line)
        } catch {
            close(fd)
            throw .notACassette(path: path, detail: error.detail)
        }
        guard CassetteHeader.supportedVersions.contains(header.version) else {
            close(fd)
            throw .unsupportedVersion(path: path, found: header.version, supported: CassetteHeader.supportedVersions)
        }
        if let feature = header.requires.first(where: { !CassetteHeader.knownFeatures.contains($0) }) {
            close(fd)
            throw .unsupportedFeature(path: path, line: 1, feature: feature)
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// `captures/trace.pcap` → `trace.cassette` (in the current directory, since the capture's
    /// may not be writable): the name an import of that capture suggests.
    static func cassetteName(forCapture path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name + ".cassette" }
        return String(name[..<dot]) + ".cassette"
    }

    /// The next event, or `nil` at the end of the file.
    public func next() throws(CassetteError) -> SessionEvent? {
        while true {
            guard let (line, terminated) = try Self.readLine(
                fd: descriptor, chunk: &chunk, pending: &pending, pendingStart: &pendingStart, atEnd: &atEndOfFile, path: path
            ) else { return nil }
            lineNumber += 1
            if line.allSatisfy(Self.isWhitespace) { continue }
            let decoded: CassetteDecoder.DecodedEvent
            do {
                decoded = try decoder.decodeLine(line)
            } catch {
                if !terminated {
                    warnings.append("\(path): line \(lineNumber): last line is incomplete (the recorder was probably stopped while writing it); ignored: \(error.detail)")
                    return nil
                }
                throw .malformedLine(path: path, line: lineNumber, detail: error.detail)
            }
            switch decoded {
            case .event(let event):
                return event
            case .unknown(_, let kind):
                if header.requires.contains(kind) {
                    throw .unsupportedFeature(path: path, line: lineNumber, feature: kind)
                }
                if skippedKinds.insert(kind).inserted {
                    warnings.append("\(path): line \(lineNumber): skipped an event of unknown kind \"\(kind)\" "
                        + "(written by a later replayd; replayd \(ReplaydVersion.current) does not know it); later \"\(kind)\" events are skipped too")
                }
            }
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0d || byte == 0x0a
    }

    /// The next line without its `\n`, and whether it had one.
    private static func readLine(
        fd: Int32, chunk: inout [UInt8], pending: inout [UInt8], pendingStart: inout Int, atEnd: inout Bool, path: String = ""
    ) throws(CassetteError) -> (line: [UInt8], terminated: Bool)? {
        var searchFrom = pendingStart
        while true {
            if let newline = pending[searchFrom...].firstIndex(of: 0x0a) {
                let line = Array(pending[pendingStart..<newline])
                pendingStart = newline + 1
                if pendingStart > 1 << 20 {
                    pending.removeFirst(pendingStart)
                    pendingStart = 0
                }
                return (line, true)
            }
            searchFrom = pending.count
            if atEnd {
                guard pendingStart < pending.count else { return nil }
                let line = Array(pending[pendingStart...])
                pendingStart = pending.count
                return (line, false)
            }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { atEnd = true } else { pending.append(contentsOf: chunk[0..<count]) }
        }
    }
}
