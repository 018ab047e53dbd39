import Foundation
import Logging
import Testing
@testable import ReplayCore

/// `show --transcript` then `convert` over cassettes imported from real captures (the bundled
/// ones and the shared corpus): the same sessions come back, bytes, chunks, endings, markers
/// (redactions, gaps, resets) and times to the microsecond.
@Suite("Transcript round trip over imported captures")
struct ScenarioRoundTripTests {
    @Test(.timeLimit(.minutes(3)), arguments: HeavyTests.ImportExportRoundTripTests.captures)
    func importedCaptureRoundTrips(capture: HeavyTests.ImportExportRoundTripTests.Capture) throws {
        let directory = try TestPaths.temporaryDirectory("transcript-roundtrip")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cassettePath = directory + "/imported.cassette"
        _ = try CaptureImporter(capturePath: capture.path, outputPath: cassettePath).run(logger: Logger(label: "test"))
        let cassette = try Cassette.load(path: cassettePath)
        let text = TranscriptWriter().text(for: cassette)
        let back = try TranscriptReader(path: "x.txt").read(text).cassette
        try #require(back.sessions.count == cassette.sessions.count, "\(capture.name)")
        for (original, read) in zip(cassette.sessions, back.sessions) {
            var expected = original
            expected.events = original.events.map { event in
                var event = event
                event.offset = TranscriptWriter.micros(event.offset) * 1000
                return event
            }
            if read != expected {
                let index = Array(zip(read.events, expected.events)).firstIndex { $0.0 != $0.1 } ?? min(read.events.count, expected.events.count)
                let got = index < read.events.count ? String(describing: read.events[index]) : "none"
                let wanted = index < expected.events.count ? String(describing: expected.events[index]) : "none"
                Issue.record("\(capture.name) session \(original.id): event \(index) differs: \(got) vs \(wanted)")
            }
        }
    }
}
