#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOSSL

/// A certificate chain and its private key, read from PEM files, that replayd presents to
/// clients when it terminates TLS (`record --tls-cert --tls-key`, replay with TLS).
///
/// The key is read into BoringSSL's memory and nowhere else: it is never written to a
/// cassette, a log or another file, and its text never appears in an error.
public struct TLSIdentity: Sendable {
    /// The chain as read: the leaf first, then any intermediates.
    public let certificateChain: [NIOSSLCertificate]
    public let privateKey: NIOSSLPrivateKey
    /// Where the chain and the key came from, for messages.
    public let certificatePath: String
    public let keyPath: String
    /// Things the user should know but that do not stop replayd, e.g. a key file readable by
    /// others. Empty when all is well.
    public let warnings: [String]

    /// Reads the chain from `certificatePath` and the key from `keyPath` (both PEM).
    public init(certificatePath: String, keyPath: String) throws(TLSIdentityError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        try Self.checkReadable(certificatePath, expected: "a PEM certificate chain")
        try Self.checkReadable(keyPath, expected: "a PEM private key")
        do {
            certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw .unreadable(path: certificatePath, expected: "a PEM certificate chain", reason: "no certificate could be read from it")
        }
        guard !certificateChain.isEmpty else {
            throw .unreadable(path: certificatePath, expected: "a PEM certificate chain", reason: "it holds no CERTIFICATE block")
        }
        do {
            privateKey = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            // BoringSSL's reason is not quoted: it could echo part of the file.
            throw .unreadable(path: keyPath, expected: "a PEM private key", reason: "no unencrypted private key could be read from it")
        }
        warnings = Self.permissionWarnings(keyPath: keyPath)
    }

    /// A server-side configuration that presents this identity (TLS 1.2 and later, no client
    /// certificates asked for).
    public func serverConfiguration() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// Fails with a clear message when `path` is missing or cannot be read, before BoringSSL
    /// turns either into an unexplained "failed to load".
    private static func checkReadable(_ path: String, expected: String) throws(TLSIdentityError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .unreadable(path: path, expected: expected, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, expected: expected, reason: "not a regular file")
        }
        guard access(path, R_OK) == 0 else {
            throw .unreadable(path: path, expected: expected, reason: String(cString: strerror(errno)))
        }
    }

    /// A key file that group or others may read is a leaked key waiting to happen.
    static func permissionWarnings(keyPath: String) -> [String] {
        var info = stat()
        guard stat(keyPath, &info) == 0 else { return [] }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 != 0 else { return [] }
        return ["\(keyPath): private key file is readable by \(mode & 0o007 != 0 ? "others" : "its group") (mode \(String(mode, radix: 8))); chmod 600 \(keyPath)"]
    }
}

/// Why a certificate or key could not be used. Every case names the file and what it should hold.
public enum TLSIdentityError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, expected: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let expected, let reason):
            return "\(path): expected \(expected): \(reason)"
        }
    }
}
