import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// Prints `replayd: error: MESSAGE` on stderr and returns the exit code to throw (see
/// `ExitStatus`), so every subcommand reports failures the same way.
func failure(_ error: any Error) -> ExitCode {
    printToStandardError("replayd: error: \(error)")
    return ExitStatus.of(error).exitCode
}

/// Prints a line on stderr with one write, so lines of concurrent writers do not interleave.
func printToStandardError(_ line: String) {
    var bytes = Array(line.utf8)
    if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
    bytes.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
