import Foundation

/// The JSON `replayd replay --report FILE` writes at exit, read with JSONSerialization (so
/// that a report that is no valid JSON fails the test with the parser's message):
/// `{"connections":[{"connection":1,"session":"FILE:N","steps":[...],"mismatches":...}],"unused":["FILE:N"]}`.
/// `mismatches` may be a count or an array of mismatches; steps whose `result` is `mismatch`
/// count too, so that the two can be checked against each other.
struct ReplayReport {
    struct Connection {
        var number: Int?
        /// The recorded session the connection followed, `FILE:N`.
        var session: String?
        var steps: [[String: Any]]
        /// The `mismatches` field: a count, or the number of entries of an array; nil when absent.
        var mismatches: Int?
        /// The steps whose `result` is `mismatch`.
        var mismatchedSteps: Int { steps.filter { $0["result"] as? String == "mismatch" }.count }
    }

    var connections: [Connection]
    /// Sessions no connection followed.
    var unused: [String]
    /// The whole parsed document, for failure messages.
    var text: String

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        text = String(decoding: data, as: UTF8.self)
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ReportError(description: "report \(path) is not a JSON object: \(text)")
        }
        guard let connections = root["connections"] as? [[String: Any]] else {
            throw ReportError(description: "report \(path) has no \"connections\" array: \(text)")
        }
        self.connections = connections.map {
            Connection(number: $0["connection"] as? Int, session: $0["session"] as? String,
                       steps: $0["steps"] as? [[String: Any]] ?? [],
                       mismatches: ($0["mismatches"] as? Int) ?? ($0["mismatches"] as? [Any])?.count)
        }
        guard let unused = root["unused"] as? [String] else {
            throw ReportError(description: "report \(path) has no \"unused\" array of strings: \(text)")
        }
        self.unused = unused
    }

    struct ReportError: Error, CustomStringConvertible { var description: String }
}
