import Testing
@testable import ReplayCore

/// The `tls` event's new fields (`alpn`, `failure`, `leg`) through the cassette codec, the
/// transcript writer and reader, and `show`.
@Suite("TLSMarkerFormat")
struct TLSMarkerFormatTests {
    static let began = TLSMarker(version: "TLSv1.3", sni: "mail.test", alpn: "h2")
    static let failed = TLSMarker(sni: "localhost", failure: "the peer does not trust the certificate (unknown CA) [TLSV1_ALERT_UNKNOWN_CA]", leg: .client)

    @Test("the codec keeps every field, and leaves out the ones not set")
    func codec() throws {
        for marker in [Self.began, Self.failed, TLSMarker()] {
            let event = SessionEvent(session: 3, offset: 1_000, kind: .tls(marker))
            let line = CassetteEncoder().encode(event)
            #expect(try CassetteDecoder().decodeEvent(line) == event)
        }
        let text = String(decoding: CassetteEncoder().encode(SessionEvent(session: 1, offset: 0, kind: .tls(Self.failed))), as: UTF8.self)
        #expect(text.contains(#""leg":"client""#))
        #expect(!text.contains("version"))
    }

    @Test("a leg other than client or upstream is refused")
    func badLeg() {
        #expect(throws: (any Error).self) {
            _ = try CassetteDecoder().decodeEvent(Array(#"{"s":1,"t":0.0,"ev":"tls","leg":"sideways"}"#.utf8))
        }
    }

    @Test("the transcript writes and reads them back; show says which leg failed and why")
    func transcriptAndShow() throws {
        let session = ScriptedSession.make([(10, .tls(Self.began)), (20, ScriptedSession.c2s("EHLO x\r\n")), (30, .tls(Self.failed)), (40, .end)], proto: .smtp)
        let cassette = Cassette(header: CassetteHeader(source: .record), sessions: [session])
        let text = TranscriptWriter().text(for: cassette)
        #expect(text.contains("<TLS version=TLSv1.3 sni=mail.test alpn=h2>"), "\(text)")
        #expect(text.contains("leg=client failure=\""), "\(text)")
        let back = try TranscriptReader(path: "t.txt").read(text).cassette
        let markers = back.sessions.flatMap(\.events).compactMap { event -> TLSMarker? in
            if case .tls(let marker) = event.kind { return marker }
            return nil
        }
        #expect(markers == [Self.began, Self.failed])
        let shown = TranscriptPrinter().lines(for: session).joined(separator: "\n")
        #expect(shown.contains("-- TLS began (TLSv1.3, sni mail.test, alpn h2); decrypted plaintext from here on"), "\(shown)")
        #expect(shown.contains("!! TLS handshake failed on the client leg (sni localhost): the peer does not trust the certificate (unknown CA)"), "\(shown)")
    }
}
