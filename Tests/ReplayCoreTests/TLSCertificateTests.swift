import Foundation
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS
import Testing
import X509
@testable import ReplayCore
#if canImport(Glibc)
import Glibc
#endif

/// `replayd cert`'s CA and certificate, and `TLSIdentity` reading them: a real BoringSSL
/// handshake between two embedded channels, the client trusting only the new CA.
@Suite("TLSCertificate", .timeLimit(.minutes(1)))
struct TLSCertificateTests {
    /// Drives a handshake between a client and a server channel by moving their bytes across
    /// until neither has anything to send; answers the client's handshake error, if any.
    static func handshake(server: EmbeddedChannel, client: EmbeddedChannel) throws {
        server.pipeline.fireChannelActive()
        for _ in 0..<20 {
            var moved = false
            while let bytes = try client.readOutbound(as: ByteBuffer.self) {
                moved = true
                // The server's own failure (the client's alert) is not what these tests look at.
                try? server.writeInbound(bytes)
            }
            while let bytes = try server.readOutbound(as: ByteBuffer.self) {
                moved = true
                try client.writeInbound(bytes)
            }
            if !moved { return }
        }
    }

    /// Closes both channels. `finish()` alone would wait forever: NIOSSL's close waits for the
    /// peer's close_notify or its shutdown timeout, and an embedded loop's time only moves when
    /// told to.
    static func close(_ server: EmbeddedChannel, _ client: EmbeddedChannel) {
        for channel in [client, server] {
            channel.close(promise: nil)
            channel.embeddedEventLoop.advanceTime(by: .seconds(30))
        }
        _ = try? server.finish(acceptAlreadyClosed: true)
        _ = try? client.finish(acceptAlreadyClosed: true)
    }

    static func makeFiles() throws -> (String, TestCertificateAuthority.Files) {
        let directory = try TestPaths.temporaryDirectory("tls-cert")
        let files = try TestCertificateAuthority.write(to: directory + "/tls", names: ["localhost", "127.0.0.1", "mail.test"])
        return (directory, files)
    }

    /// A client that trusts `caFile` only, checking `hostname`, against a server presenting `identity`.
    static func connect(identity: TLSIdentity, caFile: String, hostname: String) throws -> (EmbeddedChannel, EmbeddedChannel, HandshakeRecorder) {
        let serverContext = try NIOSSLContext(configuration: identity.serverConfiguration())
        var clientConfiguration = TLSConfiguration.makeClientConfiguration()
        clientConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        let clientContext = try NIOSSLContext(configuration: clientConfiguration)
        let server = EmbeddedChannel(handler: NIOSSLServerHandler(context: serverContext))
        let recorder = HandshakeRecorder()
        let client = EmbeddedChannel()
        try client.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: clientContext, serverHostname: hostname))
        try client.pipeline.syncOperations.addHandler(recorder)
        // A peer address, which the name check wants (not one of the certificate's, so that only
        // the name can match); connecting also makes the channel active. Nothing is sent anywhere.
        try client.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 443)).wait()
        try handshake(server: server, client: client)
        return (server, client, recorder)
    }

    @Test("the server certificate verifies against the new CA, for each of its DNS names")
    func verifiesAgainstCA() throws {
        let (directory, files) = try Self.makeFiles()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let identity = try TLSIdentity(certificatePath: files.certificate, keyPath: files.key)
        #expect(identity.warnings.isEmpty)
        for name in ["localhost", "mail.test"] {
            let (server, client, recorder) = try Self.connect(identity: identity, caFile: files.caCertificate, hostname: name)
            #expect(recorder.completed, "handshake for \(name): \(String(describing: recorder.error))")
            #expect(recorder.error == nil)
            Self.close(server, client)
        }
    }

    @Test("a name the certificate is not for fails the handshake")
    func nameMismatchFails() throws {
        let (directory, files) = try Self.makeFiles()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let identity = try TLSIdentity(certificatePath: files.certificate, keyPath: files.key)
        let (server, client, recorder) = try Self.connect(identity: identity, caFile: files.caCertificate, hostname: "other.test")
        #expect(!recorder.completed)
        #expect(recorder.error != nil)
        #expect(TLSFailureReason.describe(try #require(recorder.error)).contains("name"))
        Self.close(server, client)
    }

    @Test("a client trusting another CA fails with unknown CA")
    func otherCAFails() throws {
        let (directory, files) = try Self.makeFiles()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let other = try TestCertificateAuthority.write(to: directory + "/other", names: ["localhost"])
        let identity = try TLSIdentity(certificatePath: files.certificate, keyPath: files.key)
        let (server, client, recorder) = try Self.connect(identity: identity, caFile: other.caCertificate, hostname: "localhost")
        #expect(!recorder.completed)
        #expect(TLSFailureReason.describe(try #require(recorder.error)).contains("unknown CA"))
        Self.close(server, client)
    }

    @Test("the files: keys are 0600, the SANs are the names (addresses as IP SANs), the CA is a CA")
    func fileContents() throws {
        let (directory, files) = try Self.makeFiles()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for key in [files.key, files.caKey] {
            var info = stat()
            #expect(stat(key, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
        }
        let leaf = try Certificate(pemEncoded: String(contentsOfFile: files.certificate, encoding: .utf8))
        let ca = try Certificate(pemEncoded: String(contentsOfFile: files.caCertificate, encoding: .utf8))
        let names = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.contains(.dnsName("mail.test")))
        #expect(names.contains { if case .ipAddress(let bytes) = $0 { return Array(bytes.bytes) == [127, 0, 0, 1] } else { return false } })
        #expect(leaf.issuer == ca.subject)
        #expect(try ca.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(ca.publicKey.isValidSignature(leaf.signature, for: leaf))
    }

    @Test("a name that is neither a host nor an address is refused")
    func badName() {
        #expect(throws: CertificateAuthorityError.badName("no such/name")) {
            _ = try TestCertificateAuthority.issue(names: ["no such/name"])
        }
    }

    @Test("TLSIdentity: a missing file, a key file that is not a key, and a readable key file")
    func identityErrors() throws {
        let (directory, files) = try Self.makeFiles()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: TLSIdentityError.self) { _ = try TLSIdentity(certificatePath: directory + "/missing.pem", keyPath: files.key) }
        do {
            _ = try TLSIdentity(certificatePath: files.certificate, keyPath: files.certificate)
            Issue.record("a certificate was accepted as a key")
        } catch {
            #expect(error.description.hasPrefix(files.certificate + ": expected a PEM private key"))
        }
        do {
            _ = try TLSIdentity(certificatePath: files.key, keyPath: files.key)
            Issue.record("a key was accepted as a certificate")
        } catch {
            #expect(error.description.contains("expected a PEM certificate chain"))
            // The key's text never appears in a message.
            #expect(!error.description.contains("BEGIN"))
        }
        chmod(files.key, 0o644)
        let identity = try TLSIdentity(certificatePath: files.certificate, keyPath: files.key)
        #expect(identity.warnings.count == 1)
        #expect(identity.warnings.first?.contains("readable by others") == true)
    }
}

/// Remembers how the client's handshake ended.
final class HandshakeRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var completed = false
    var error: (any Error)?

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event as? TLSUserEvent ?? .shutdownCompleted { completed = true }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil { self.error = error }
    }
}
