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
public final class CassetteWriter {
    public let path: String
    private let writtenPath: String
    private let atomic: Bool
    private var descriptor: Int32
    private var buffer: LineBuffer
    /// Bytes already handed to the kernel (for starting their write-back early).
    private var fileOffset: Int64 = 0
    private var writeBackStart: Int64 = 0
    private let encoder = CassetteEncoder()
    /// Bytes held before they are written to the file.
    private let bufferLimit: Int

    /// Creates (or truncates) the cassette and writes its header.
    public init(path: String, header: CassetteHeader, atomic: Bool = false, bufferLimit: Int = 256 * 1024) throws(CassetteError) {
        self.path = path
        self.atomic = atomic
        self.writtenPath = atomic ? path + ".partial" : path
        self.bufferLimit = bufferLimit
        let fd = open(writtenPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotOpen(path: writtenPath, reason: String(cString: strerror(errno))) }
        // An existing file keeps its old mode through O_TRUNC; a cassette is never world-readable.
        _ = fchmod(fd, 0o600)
        self.descriptor = fd
        buffer = LineBuffer(capacity: bufferLimit + 65536)
        encoder.encode(header, into: &buffer)
        try flush()
    }

    deinit {
        if descriptor >= 0 {
            _ = try? flush()
            _ = close(descriptor)
        }
    }

    /// Appends one event. It reaches the file when the buffer fills or on `flush()`.
    public func append(_ event: SessionEvent) throws(CassetteError) {
        encoder.encode(event, into: &buffer)
        if buffer.count >= bufferLimit { try flush() }
    }

    /// Writes everything appended so far to the file.
    public func flush() throws(CassetteError) {
        guard descriptor >= 0, !buffer.isEmpty else { return }
        var written = 0
        let total = buffer.count
        while written < total {
            let result = buffer.withBytes { raw in
                write(descriptor, raw.baseAddress! + written, total - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                buffer.removeFirst(written)
                fileOffset += Int64(written)
                throw .cannotWrite(path: writtenPath, reason: reason)
            }
            written += result
        }
        buffer.removeAll()
        fileOffset += Int64(total)
        startWriteBack()
    }

    /// Asks the kernel to start writing what has been handed over so far, without waiting, so
    /// that the `fsync` in `finish()` finds little left to do: a large import then overlaps its
    /// disk writes with its work instead of waiting for all of them at the end.
    private func startWriteBack() {
        #if os(Linux)
        let pending = fileOffset - writeBackStart
        guard pending >= Self.writeBackChunk else { return }
        // Linux starts write-back of dirty pages for POSIX_FADV_DONTNEED without waiting for it
        // (sync_file_range would say so more directly, but Glibc's module does not export it).
        _ = posix_fadvise(descriptor, off_t(writeBackStart), off_t(pending), POSIX_FADV_DONTNEED)
        writeBackStart = fileOffset
        #endif
    }

    static let writeBackChunk: Int64 = 8 << 20

    /// Flushes and closes the file; with `atomic`, moves it to its final name.
    public func finish() throws(CassetteError) {
        try flush()
        if fsync(descriptor) != 0, errno != EINVAL {
            throw .cannotWrite(path: writtenPath, reason: String(cString: strerror(errno)))
        }
        _ = close(descriptor)
        descriptor = -1
        if atomic, rename(writtenPath, path) != 0 {
            throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// Closes without completing: an atomic writer removes its partial file.
    public func abandon() {
        if descriptor >= 0 {
            _ = close(descriptor)
            descriptor = -1
        }
        buffer.removeAll()
        if atomic { _ = unlink(writtenPath) }
    }
}
