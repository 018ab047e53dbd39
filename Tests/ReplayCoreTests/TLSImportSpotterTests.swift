import Testing
@testable import ReplayCore

/// `TLSSessionSpotter`: which imported sessions are TLS ciphertext.
@Suite("TLSImportSpotter")
struct TLSImportSpotterTests {
    static func data(_ session: Int, _ direction: Direction, _ bytes: [UInt8]) -> SessionEvent {
        SessionEvent(session: session, offset: 0, kind: .data(direction, bytes))
    }

    static let hello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]

    @Test("a ClientHello as the first client bytes, even split after two bytes, is implicit TLS")
    func implicit() {
        var spotter = TLSSessionSpotter()
        spotter.take(Self.data(1, .clientToServer, Array(Self.hello[..<2])))
        spotter.take(Self.data(1, .clientToServer, Array(Self.hello[2...])))
        #expect(spotter.found == [1: .implicit])
    }

    @Test("STARTTLS then a ClientHello is TLS after an upgrade; plain SMTP is not TLS")
    func startTLS() {
        var spotter = TLSSessionSpotter()
        spotter.take(Self.data(2, .serverToClient, Array("220 mx\r\n".utf8)))
        spotter.take(Self.data(2, .clientToServer, Array("STARTTLS\r\n".utf8)))
        spotter.take(Self.data(2, .serverToClient, Array("220 go\r\n".utf8)))
        spotter.take(Self.data(2, .clientToServer, Self.hello))
        spotter.take(Self.data(3, .clientToServer, Array("EHLO x\r\n".utf8)))
        spotter.take(Self.data(3, .clientToServer, Array("QUIT\r\n".utf8)))
        #expect(spotter.found == [2: .startTLS])
        let report = spotter.report(limit: 20)
        #expect(report.line?.hasPrefix("TLS sessions: 1") == true)
        #expect(report.warnings.first?.contains("SSLKEYLOGFILE") == true)
    }

    @Test("a server hello or a record that is not a handshake is not taken for a ClientHello")
    func notHello() {
        var spotter = TLSSessionSpotter()
        spotter.take(Self.data(4, .clientToServer, [0x17, 0x03, 0x03, 0x00, 0x10, 0x01]))
        spotter.take(Self.data(5, .clientToServer, [0x16, 0x03, 0x03, 0x00, 0x10, 0x02]))
        spotter.take(Self.data(6, .serverToClient, Self.hello))
        #expect(spotter.found.isEmpty)
    }
}
