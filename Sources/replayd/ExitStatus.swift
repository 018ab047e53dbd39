import ArgumentParser
import NIOCore
import ReplayCore

/// The exit codes every subcommand uses (the README's table). The numbers above 2 are those of
/// BSD's sysexits.h, so scripts written against other Unix tools read them the same way.
enum ExitStatus: Int32, CaseIterable {
    /// Done as asked.
    case ok = 0
    /// A difference was found (verify, check): the tool worked, the subject did not match.
    case differenceFound = 1
    /// A peer (an upstream, a verify target) could not be reached.
    case peerUnreachable = 2
    /// The command line is wrong: an unknown option, a value out of range, a session that is not there.
    case usage = 64
    /// An input file is not what it should be: not a cassette, a malformed line, a broken capture.
    case badInput = 65
    /// Reading or writing a file, or using a socket, failed.
    case ioError = 74

    var exitCode: ExitCode { ExitCode(rawValue) }

    /// The status an error ends the command with.
    static func of(_ error: any Error) -> ExitStatus {
        known(error) ?? (error is ValidationError ? .usage : .ioError)
    }

    /// The status of an error replayd itself reports; `nil` for the argument parser's own errors
    /// (and for errors of unknown kinds).
    static func known(_ error: any Error) -> ExitStatus? {
        switch error {
        case let error as CommandError:
            return error.status
        case let error as CassetteError:
            switch error {
            case .cannotOpen, .cannotWrite: return .ioError
            case .noSuchSession: return .usage
            case .empty, .notACassette, .unsupportedVersion, .malformedLine, .unsupportedFeature: return .badInput
            }
        case let error as CaptureError:
            switch error {
            case .cannotOpen(_, let reason): return CaptureFileKind.isFormatComplaint(reason) ? .badInput : .ioError
            case .badFilter: return .usage
            case .readFailed, .unsupportedLinkType: return .badInput
            }
        case let error as LiveCaptureError:
            switch error {
            case .noSuchInterface, .promiscuousPermissionDenied: return .usage
            case .unsupportedLinkType: return .badInput
            case .permissionDenied, .interfaceDown, .cannotActivate, .readFailed, .system: return .ioError
            }
        case let error as ExportError:
            switch error {
            case .cassette(let inner): return known(inner)
            case .cannotWrite: return .ioError
            }
        case let error as AddressError:
            switch error {
            case .badEndpoint: return .usage
            case .cannotResolve: return .peerUnreachable
            }
        case is TranscriptError, is MessagePatternError:
            return .badInput
        case is MaskError, is RedactionPatternError, is CassetteRedaction.Failure:
            return .usage
        case is ProxyError, is ReplayServerError, is IOError:
            return .ioError
        default:
            return nil
        }
    }
}

/// A failure of the command line tool itself (as opposed to one ReplayCore reports), with the
/// exit status it ends the command with.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    var status: ExitStatus

    init(_ description: String, status: ExitStatus = .ioError) {
        self.description = description
        self.status = status
    }
}
