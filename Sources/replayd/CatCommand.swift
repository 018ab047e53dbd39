import ArgumentParser
import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

struct CatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Write the raw bytes one side of one session sent to stdout.",
        discussion: """
        The bytes are written exactly as recorded, chunks joined, nothing added. Bytes a capture \
        lost (gaps) are left out, with a warning on stderr.

        EXAMPLES
          # the whole SMTP conversation as the client sent it (DATA holds the message)
          replayd cat smtp.cassette --session 1 --dir c2s > client.txt
          # the server's replies of the third session
          replayd cat capture.cassette --session 3 --dir s2c | less
        """
    )

    @Argument(help: "The cassette file to read.")
    var cassette: String

    @Option(parsing: .unconditional, help: "The session to read (numbered from 1 in order of start).")
    var session: Int

    @Option(help: "c2s for what the client sent, s2c for what the server sent.")
    var dir: Direction

    func run() throws {
        do {
            let loaded = try Cassette.load(path: cassette)
            for warning in loaded.warnings { printToStandardError("replayd: warning: \(warning)") }
            let chosen = try loaded.session(session, path: cassette)
            let missing = chosen.events.reduce(0) { total, event in
                if case .gap(let direction, let count) = event.kind, direction == dir { return total + count }
                return total
            }
            if missing > 0 {
                printToStandardError("replayd: warning: \(missing) bytes of this direction are missing from the capture and left out")
            }
            try writeAll(chosen.bytes(dir))
        } catch let error as ExitCode {
            throw error
        } catch {
            throw failure(error)
        }
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw failure(CommandError("cannot write to stdout: \(String(cString: strerror(errno)))"))
            }
            offset += written
        }
    }
}

extension Direction: ExpressibleByArgument {}
