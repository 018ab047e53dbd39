import Foundation
import NIOConcurrencyHelpers

/// Collects the report of every finished connection, from any event loop, and writes the
/// `--report` file: per connection, the session it followed and each step matched or not;
/// the sessions no connection used.
public final class ReplayReportLog: Sendable {
    private struct Totals {
        var connections = 0
        var messages = 0
        var matched = 0
        var withMismatches = 0
    }

    private let entries = NIOLockedValueBox<[ConnectionReport]>([])
    private let totals = NIOLockedValueBox(Totals())
    /// Whether each connection's report is kept (for `--report`); otherwise only totals, so a
    /// long-running server's memory stays flat.
    public let keepsConnections: Bool

    public init(keepsConnections: Bool = true) {
        self.keepsConnections = keepsConnections
    }

    public func add(_ report: ConnectionReport) {
        totals.withLockedValue { totals in
            totals.connections += 1
            totals.messages += report.messages
            totals.matched += report.matched
            if report.mismatches > 0 { totals.withMismatches += 1 }
        }
        if keepsConnections { entries.withLockedValue { $0.append(report) } }
    }

    /// Every connection reported so far, in connection order.
    public var connections: [ConnectionReport] {
        entries.withLockedValue { $0 }.sorted { $0.connection < $1.connection }
    }

    /// One line for the end of a run (and SIGINT/SIGTERM).
    /// `byMessages` false (`--match bytes`, `none`): nothing was framed, so only connections count.
    public func summary(unused: [SessionRef], byMessages: Bool = true) -> String {
        let totals = totals.withLockedValue { $0 }
        let count = totals.connections
        guard byMessages else {
            var line = "\(count) connection\(count == 1 ? "" : "s") served in accept order"
            if !unused.isEmpty { line += "; \(unused.count) session\(unused.count == 1 ? "" : "s") never served" }
            return line
        }
        let mismatched = totals.withMismatches
        let messages = totals.messages
        let matched = totals.matched
        var line = "\(count) connection\(count == 1 ? "" : "s"), \(messages) client message\(messages == 1 ? "" : "s"), \(matched) matched"
        line += ", \(mismatched) connection\(mismatched == 1 ? "" : "s") with mismatches"
        if !unused.isEmpty {
            let names = unused.prefix(10).map(\.description).joined(separator: ", ")
            line += "; sessions never used: \(names)\(unused.count > 10 ? " and \(unused.count - 10) more" : "")"
        }
        return line
    }

    /// The report as JSON (an object with `connections` and `unused`).
    public func json(unused: [SessionRef]) throws -> Data {
        let connections: [[String: Any]] = self.connections.map { report in
            var object: [String: Any] = [
                "connection": report.connection,
                "mismatches": report.steps.filter { $0.result == .mismatch }.map { $0.detail ?? $0.received },
                "steps": report.steps.map { step -> [String: Any] in
                    var entry: [String: Any] = [
                        "step": step.step, "received": step.received, "kind": step.kind, "result": step.result.rawValue,
                    ]
                    if let level = step.level { entry["level"] = level.description }
                    if let session = step.session { entry["session"] = session.description }
                    if let exchange = step.exchange { entry["exchange"] = exchange }
                    if step.skipped > 0 { entry["skipped"] = step.skipped }
                    if let detail = step.detail { entry["detail"] = detail }
                    return entry
                },
            ]
            if let client = report.client { object["client"] = client }
            if let followed = report.followed { object["session"] = followed.description }
            if let outcome = report.outcome { object["outcome"] = outcome }
            if !report.faults.isEmpty { object["faults"] = report.faults }
            return object
        }
        let document: [String: Any] = ["connections": connections, "unused": unused.map(\.description)]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    }
}
