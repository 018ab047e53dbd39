#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rewrites a cassette with its secrets redacted (`replayd redact`): every event read in
/// order, sessions without `proto` tagged first (as a recorder would), then the `Redactor`,
/// then an atomic `CassetteWriter` (mode 0600, format version 2). The header's facts and masks
/// are kept.
public enum CassetteRedaction {
    /// What a rewrite did.
    public struct Summary: Sendable, Equatable {
        /// Secrets redacted, by rule.
        public var counts: [String: Int] = [:]
        public var sessions = 0
        public var warnings: [String] = []

        public var total: Int { counts.values.reduce(0, +) }
    }

    /// Why a rewrite could not start.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case sameFile(String)

        public var description: String {
            switch self {
            case .sameFile(let path):
                return "the output \(path) is the input cassette; write to another file (the input is never changed)"
            }
        }
    }

    /// Reads `input`, writes `output`. On error no output is left behind.
    public static func run(input: String, output: String, rules: UserRedactionRules = .none) throws -> Summary {
        if isSameFile(input, output) { throw Failure.sameFile(output) }
        let reader = try CassetteReader(path: input)
        var header = reader.header
        header.version = CassetteHeader.currentVersion
        header.tool = "replayd \(ReplaydVersion.current)"
        let writer = try CassetteWriter(path: output, header: header, atomic: true)
        var summary = Summary()
        do {
            var tagger = ProtocolTagger()
            var redactor = Redactor(user: rules)
            var tagged: [SessionEvent] = []
            var redacted: [SessionEvent] = []
            var sessions = Set<Int>()
            while let event = try reader.next() {
                sessions.insert(event.session)
                tagger.take(event, into: &tagged)
                redactor.take(tagged, into: &redacted)
                tagged.removeAll(keepingCapacity: true)
                for event in redacted { try writer.append(event) }
                redacted.removeAll(keepingCapacity: true)
            }
            tagger.finish(into: &tagged)
            redactor.take(tagged, into: &redacted)
            redactor.finish(into: &redacted)
            for event in redacted { try writer.append(event) }
            try writer.finish()
            summary.counts = redactor.counts
            summary.sessions = sessions.count
            summary.warnings = reader.warnings
            return summary
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Whether both paths name one file (the same path written twice, a link, `./x` and `x`).
    public static func isSameFile(_ first: String, _ second: String) -> Bool {
        var a = stat(), b = stat()
        guard stat(first, &a) == 0, stat(second, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }
}
