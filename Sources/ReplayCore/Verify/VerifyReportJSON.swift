import Foundation

/// Verify's verdicts as one JSON document for CI (`--json`): per session the verdict, each
/// step with the recorded and the live reply, the first difference, and the endings.
public enum VerifyReportJSON {
    public static func document(_ verdicts: [SessionVerdict], target: String) throws -> Data {
        let sessions: [[String: Any]] = verdicts.map { verdict in
            var object: [String: Any] = [
                "session": verdict.session.session,
                "cassette": verdict.session.file,
                "proto": verdict.proto.rawValue,
                "verdict": verdict.matched ? "ok" : "different",
                "steps": verdict.steps.map { step -> [String: Any] in
                    var entry: [String: Any] = [
                        "step": step.step, "kind": step.kind, "sent": Escaped.text(step.sent, limit: 4096),
                        "result": step.result.rawValue,
                        "recorded": Escaped.text(step.recorded, limit: 4096), "live": Escaped.text(step.live, limit: 4096),
                    ]
                    if let detail = step.detail { entry["detail"] = detail }
                    return entry
                },
            ]
            if let label = verdict.label { object["label"] = label }
            if let ending = verdict.recordedEnding { object["recordedEnding"] = ending.rawValue }
            if let ending = verdict.liveEnding { object["liveEnding"] = ending.rawValue }
            if let difference = verdict.difference {
                var entry: [String: Any] = [
                    "detail": difference.detail,
                    "recorded": Escaped.text(difference.recorded, limit: 4096), "live": Escaped.text(difference.live, limit: 4096),
                ]
                if let step = difference.step { entry["step"] = step } else { entry["step"] = "end" }
                if let kind = difference.kind { entry["kind"] = kind }
                if let sent = difference.sent { entry["sent"] = Escaped.text(sent, limit: 4096) }
                if !difference.recordedPatterns.isEmpty { entry["recordedPatterns"] = difference.recordedPatterns }
                object["difference"] = entry
            }
            return object
        }
        let different = verdicts.filter { !$0.matched }.count
        let document: [String: Any] = [
            "target": target,
            "sessions": sessions,
            "ok": verdicts.count - different,
            "different": different,
            "verdict": different == 0 ? "ok" : "different",
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    }
}
