#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a cassette file: the header first, then events as they are appended.
///
/// The file is created with mode 0600 because it holds whatever crossed the wire (passwords
/// in SMTP AUTH, cookies). With `atomic`, lines go to `PATH.partial` and `finish()` renames it,
/// so an import that fails never leaves a file that looks complete.
///
/// With `writeBehind`, events are encoded and written on a thread of the writer's own (see
/// `CassetteWriteBehind`): `append` only queues them, and a write error surfaces on a later
/// `append`, `flush` or `finish`. Imports use it; a recording proxy, which writes a few lines at a
/// time, does not need it.
///
/// `finish()` waits until the file is on the disk (`fsync`) unless `syncOnFinish` is false: an
/// import can skip that wait, because its capture can be imported again after a crash.
public final class CassetteWriter {
    public let path: String
    private let writtenPath: String
    private let atomic: Bool
    /// Whether an atomic file already has its final name.
    private var published = false
    private var descriptor: Int32
    private var file: CassetteFile
    private var buffer: LineBuffer
    private let encoder = CassetteEncoder()
    /// Bytes held before they are written to the file.
    private let bufferLimit: Int
    private let syncOnFinish: Bool
    private var worker: CassetteWriteBehind?
    /// Events not yet handed to the worker, and their payload bytes.
    private var batch: [SessionEvent] = []
    private var batchBytes = 0

    /// A batch goes to the worker at this many events or payload bytes, whichever comes first.
    static let batchEvents = 512
    static let batchBytes = 1 << 20

    /// Creates (or truncates) the cassette and writes its header.
    public init(
        path: String, header: CassetteHeader, atomic: Bool = false, bufferLimit: Int = 256 * 1024,
        writeBehind: Bool = false, syncOnFinish: Bool = true
    ) throws(CassetteError) {
        self.syncOnFinish = syncOnFinish
        self.path = path
        // Only a regular file (or a new one) is written beside and renamed: renaming over
        // /dev/null, a FIFO or a terminal would replace the device with a plain file.
        let isSpecial = Self.existsAsNonRegularFile(path)
        self.atomic = atomic && !isSpecial
        self.writtenPath = self.atomic ? path + ".partial" : path
        self.bufferLimit = bufferLimit
        let fd = open(writtenPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotOpen(path: writtenPath, reason: String(cString: strerror(errno))) }
        // An existing file keeps its old mode through O_TRUNC; a cassette is never world-readable.
        // Never chmod a device (as root that would make /dev/null unusable for everyone else).
        if !isSpecial { _ = fchmod(fd, 0o600) }
        self.descriptor = fd
        file = CassetteFile(descriptor: fd, path: writtenPath)
        buffer = LineBuffer(capacity: writeBehind ? 1024 : bufferLimit + 65536)
        encoder.encode(header, into: &buffer)
        try flush()
        if writeBehind {
            worker = CassetteWriteBehind(file: file, bufferLimit: bufferLimit)
            batch.reserveCapacity(Self.batchEvents)
        }
    }

    /// Opens an existing cassette to add events after its last line (`record --append`); the
    /// header stays. The caller has checked that this build reads the file. A last line left
    /// without its newline (a recorder killed mid-write) gets its newline if it is a whole event,
    /// and is cut off otherwise (readers skip it anyway, and a line after it would make it an error).
    public init(appendingTo path: String, bufferLimit: Int = 256 * 1024) throws(CassetteError) {
        self.path = path
        self.writtenPath = path
        self.atomic = false
        self.published = true
        self.syncOnFinish = true
        self.bufferLimit = bufferLimit
        let fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        descriptor = fd
        file = CassetteFile(descriptor: fd, path: path)
        buffer = LineBuffer(capacity: bufferLimit + 65536)
        if let tail = Self.unterminatedTail(fd) {
            if tail.start == 0 || (try? CassetteDecoder().decodeLine(tail.line)) != nil {
                var newline = LineBuffer(capacity: 16)
                newline.append(0x0a)
                try file.writeOut(&newline)
            } else if ftruncate(fd, off_t(tail.start)) != 0 {
                throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
            }
        }
    }

    /// The bytes after the last newline of the file and where they start, when the file does
    /// not end in a newline. Reads backwards in bounded chunks.
    private static func unterminatedTail(_ fd: Int32) -> (start: Int64, line: [UInt8])? {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return nil }
        let size = Int64(info.st_size)
        var tail: [UInt8] = []
        var position = size
        let step: Int64 = 64 * 1024
        while position > 0 {
            let length = Int(min(step, position))
            position -= Int64(length)
            var chunk = [UInt8](repeating: 0, count: length)
            let got = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, off_t(position)) }
            guard got == length else { return nil }
            if position + Int64(length) == size, chunk.last == 0x0a { return nil }
            if let newline = chunk.lastIndex(of: 0x0a) {
                tail = Array(chunk[(newline + 1)...]) + tail
                return (position + Int64(newline) + 1, tail)
            }
            tail = chunk + tail
        }
        return (0, tail)
    }

    /// Whether `path` names something that exists and is not a regular file (a device, a FIFO).
    private static func existsAsNonRegularFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) != S_IFREG
    }

    deinit {
        if descriptor >= 0 {
            _ = try? flush()
            try? worker?.stop()
            _ = close(descriptor)
        }
    }

    /// Appends one event. It reaches the file when the buffer fills or on `flush()`.
    public func append(_ event: SessionEvent) throws(CassetteError) {
        guard let worker else {
            encoder.encode(event, into: &buffer)
            if buffer.count >= bufferLimit { try flush() }
            return
        }
        if case .data(_, let bytes) = event.kind { batchBytes += bytes.count }
        batch.append(event)
        if batch.count >= Self.batchEvents || batchBytes >= Self.batchBytes {
            try sendBatch(to: worker)
        }
    }

    private func sendBatch(to worker: CassetteWriteBehind) throws(CassetteError) {
        guard !batch.isEmpty else { return }
        let full = batch
        batch = []
        batch.reserveCapacity(Self.batchEvents)
        batchBytes = 0
        try worker.send(full)
    }

    /// Writes everything appended so far to the file.
    public func flush() throws(CassetteError) {
        guard descriptor >= 0 else { return }
        if let worker {
            try sendBatch(to: worker)
            try worker.flush()
        } else {
            try file.writeOut(&buffer)
        }
    }

    /// Flushes and closes the file; with `atomic`, moves it to its final name.
    public func finish() throws(CassetteError) {
        try flush()
        if let worker {
            self.worker = nil
            try worker.stop()
        }
        if syncOnFinish, fsync(descriptor) != 0, errno != EINVAL {
            throw .cannotWrite(path: writtenPath, reason: String(cString: strerror(errno)))
        }
        _ = close(descriptor)
        descriptor = -1
        try publish()
    }

    /// Gives an atomic file its final name now, while writing goes on into it. A recorder calls
    /// this once it knows it will record (the proxy is listening), so a start that fails never
    /// replaces an existing cassette, and a crash after it leaves the lines under the final name.
    public func publish() throws(CassetteError) {
        guard atomic, !published else { return }
        try flush()
        if rename(writtenPath, path) != 0 {
            throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
        published = true
    }

    /// Closes without completing: an atomic writer removes its partial file.
    public func abandon() {
        if let worker {
            self.worker = nil
            worker.abandon()
        }
        batch = []
        if descriptor >= 0 {
            _ = close(descriptor)
            descriptor = -1
        }
        buffer.removeAll()
        if atomic, !published { _ = unlink(writtenPath) }
    }
}
