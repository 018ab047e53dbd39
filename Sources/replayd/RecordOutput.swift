import ReplayCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `record -o PATH` does with PATH: an existing cassette is never replaced silently.
enum RecordOutput {
    /// An existing cassette that `--append` continues.
    struct Existing {
        /// The number the first new session gets: one more than the highest already there.
        var nextSession: Int
        var header: CassetteHeader
        /// What reading it reported without failing (an incomplete last line, unknown events).
        var warnings: [String]
    }

    enum Plan {
        /// Write a new cassette (PATH is new, a device or FIFO written through, or `--force`).
        case create
        /// Add sessions to the cassette at PATH.
        case append(Existing)
    }

    /// Decides, refusing an existing regular file unless `force` or `append`; with `append`, the
    /// existing file is read through once so that a file this build cannot read is refused now.
    static func plan(path: String, force: Bool, append: Bool) throws -> Plan {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return .create }
        if force { return .create }
        guard append else {
            throw CommandError("\(path) exists; use --force to replace it or --append to add sessions to it", status: .usage)
        }
        let reader: CassetteReader
        do {
            reader = try CassetteReader(path: path)
        } catch {
            throw CommandError("\(error) (--append adds only to a cassette this replayd reads; --force replaces the file)", status: .badInput)
        }
        // Version 2 events after a version 1 header would claim a format the file no longer keeps to.
        guard reader.header.version == CassetteHeader.currentVersion else {
            throw CommandError("\(path): line 1: cassette format version \(reader.header.version); --append adds only to a version \(CassetteHeader.currentVersion) cassette (record into a new file, or use --force to replace it)", status: .badInput)
        }
        var highest = 0
        do {
            while let event = try reader.next() { highest = max(highest, event.session) }
        } catch {
            throw CommandError("\(error) (--append adds only to a cassette this replayd reads; --force replaces the file)", status: .badInput)
        }
        return .append(Existing(nextSession: highest + 1, header: reader.header, warnings: reader.warnings))
    }
}
