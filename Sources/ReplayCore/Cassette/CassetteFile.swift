#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The open cassette file: writes whole buffers and starts their write-back early.
struct CassetteFile: Sendable {
    let descriptor: Int32
    /// The path written to, for messages.
    let path: String
    /// Bytes handed to the kernel so far.
    private(set) var offset: Int64 = 0
    private var writeBackStart: Int64 = 0

    /// Write-back is started every this many bytes.
    static let writeBackChunk: Int64 = 8 << 20

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Writes all of `buffer` and empties it. On failure the unwritten rest stays in `buffer`.
    mutating func writeOut(_ buffer: inout LineBuffer) throws(CassetteError) {
        guard !buffer.isEmpty else { return }
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
                offset += Int64(written)
                throw .cannotWrite(path: path, reason: reason)
            }
            written += result
        }
        buffer.removeAll()
        offset += Int64(total)
        startWriteBack()
    }

    /// Asks the kernel to start writing what has been handed over so far, without waiting, so
    /// that the `fsync` in `CassetteWriter.finish()` finds little left to do: a large import
    /// then overlaps its disk writes with its work instead of waiting for all of them at the end.
    private mutating func startWriteBack() {
        #if os(Linux)
        let pending = offset - writeBackStart
        guard pending >= Self.writeBackChunk else { return }
        // Linux starts write-back of dirty pages for POSIX_FADV_DONTNEED without waiting for it
        // (sync_file_range says so more directly, but Glibc's module does not export it); the
        // pages then leave the cache once written, so a large import does not crowd it.
        _ = posix_fadvise(descriptor, off_t(writeBackStart), off_t(pending), POSIX_FADV_DONTNEED)
        writeBackStart = offset
        #endif
    }
}
