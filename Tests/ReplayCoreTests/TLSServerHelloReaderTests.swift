import Foundation
import NIOCore
import NIOEmbedded
import NIOSSL
import Testing
@testable import ReplayCore

/// The cipher suite read off a real ServerHello (BoringSSL's, on embedded channels), whole,
/// byte by byte, and never from bytes that are not one.
@Suite("TLSServerHelloReader", .timeLimit(.minutes(1)))
struct TLSServerHelloReaderTests {
    /// The server's first flight of a real handshake, for `maximum` TLS version.
    static func serverFirstFlight(maximum: TLSVersion) throws -> [UInt8] {
        let directory = try TestPaths.temporaryDirectory("tls-hello")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try TestCertificateAuthority.write(to: directory + "/tls", names: ["localhost"])
        let identity = try TLSIdentity(certificatePath: files.certificate, keyPath: files.key)
        var serverConfiguration = identity.serverConfiguration()
        serverConfiguration.maximumTLSVersion = maximum
        var clientConfiguration = TLSConfiguration.makeClientConfiguration()
        clientConfiguration.certificateVerification = .none
        let server = EmbeddedChannel(handler: NIOSSLServerHandler(context: try NIOSSLContext(configuration: serverConfiguration)))
        let client = EmbeddedChannel(handler: try NIOSSLClientHandler(context: try NIOSSLContext(configuration: clientConfiguration), serverHostname: "localhost"))
        client.pipeline.fireChannelActive()
        server.pipeline.fireChannelActive()
        while let hello = try client.readOutbound(as: ByteBuffer.self) { try server.writeInbound(hello) }
        var flight: [UInt8] = []
        while let bytes = try server.readOutbound(as: ByteBuffer.self) { flight += Array(bytes.readableBytesView) }
        // Not finished: NIOSSL's close would wait for the peer's close_notify on a loop whose
        // time never moves. The channels are dropped with the test.
        return flight
    }

    @Test("TLS 1.3 and 1.2: the suite BoringSSL chose, whole and byte by byte")
    func realServerHello() throws {
        let tls13 = try Self.serverFirstFlight(maximum: .tlsv13)
        var whole = ServerHelloReader()
        whole.serverBytes(tls13)
        #expect(whole.isDone)
        #expect(whole.cipherName?.hasPrefix("TLS_AES_") == true || whole.cipherName == "TLS_CHACHA20_POLY1305_SHA256", "\(String(describing: whole.cipherName))")
        var split = ServerHelloReader()
        for byte in tls13 where !split.isDone { split.serverBytes([byte]) }
        #expect(split.cipherSuite == whole.cipherSuite)

        let tls12 = try Self.serverFirstFlight(maximum: .tlsv12)
        var older = ServerHelloReader()
        older.serverBytes(tls12)
        #expect(older.cipherName?.hasPrefix("TLS_ECDHE_") == true, "\(String(describing: older.cipherName))")
    }

    @Test("plaintext, or a handshake that is not a ServerHello, gives no suite and stops reading")
    func notAServerHello() {
        var plaintext = ServerHelloReader()
        plaintext.serverBytes(Array("220 mx ESMTP\r\n".utf8))
        #expect(plaintext.isDone && plaintext.cipherSuite == nil)
        var clientHello = ServerHelloReader()
        clientHello.serverBytes([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00])
        #expect(clientHello.isDone && clientHello.cipherSuite == nil)
        #expect(ServerHelloReader.name(of: 0x1301) == "TLS_AES_128_GCM_SHA256")
        #expect(ServerHelloReader.name(of: 0x00FF) == "0x00FF")
    }
}
