#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import SwiftASN1
import X509

/// A throwaway local certificate authority and one server certificate signed by it, for
/// recording and replaying TLS on a test machine (`replayd cert`). Not for production: the
/// CA key sits next to the certificates, unprotected by anything but file permissions.
public struct TestCertificateAuthority: Sendable {
    /// The four files, in PEM.
    public struct Files: Sendable, Equatable {
        public var caCertificate: String
        public var caKey: String
        public var certificate: String
        public var key: String
    }

    /// The PEM texts, before they are written.
    public struct Issued: Sendable {
        public var caCertificatePEM: String
        public var caKeyPEM: String
        public var certificatePEM: String
        public var keyPEM: String
    }

    /// The names a certificate gets when none are given.
    public static let defaultNames = ["localhost", "127.0.0.1"]
    /// How long the certificates are valid.
    public static let validity: TimeInterval = 365 * 24 * 3600

    /// Makes a new CA and a server certificate for `names` (host names become DNS SANs, IPv4
    /// and IPv6 addresses IP SANs), all with P-256 keys.
    public static func issue(names: [String], now: Date = Date()) throws(CertificateAuthorityError) -> Issued {
        let names = names.isEmpty ? defaultNames : names
        do {
            let caKey = P256.Signing.PrivateKey()
            let caPublic = Certificate.PublicKey(caKey.publicKey)
            let caName = try DistinguishedName {
                OrganizationName("replayd")
                CommonName("replayd throwaway test CA")
            }
            let caIdentifier = SubjectKeyIdentifier(hash: caPublic)
            // A little in the past, so that a clock slightly behind still accepts it.
            let notBefore = now - 3600
            let ca = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: caPublic,
                notValidBefore: notBefore, notValidAfter: now + validity, issuer: caName, subject: caName,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    caIdentifier
                },
                issuerPrivateKey: Certificate.PrivateKey(caKey))

            let serverKey = P256.Signing.PrivateKey()
            let serverPublic = Certificate.PublicKey(serverKey.publicKey)
            let subject = try DistinguishedName {
                OrganizationName("replayd")
                CommonName(names[0])
            }
            let alternativeNames = try SubjectAlternativeNames(names.map(generalName))
            let server = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: serverPublic,
                notValidBefore: notBefore, notValidAfter: now + validity, issuer: caName, subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth])
                    alternativeNames
                    SubjectKeyIdentifier(hash: serverPublic)
                    AuthorityKeyIdentifier(keyIdentifier: caIdentifier.keyIdentifier)
                },
                issuerPrivateKey: Certificate.PrivateKey(caKey))
            return Issued(
                caCertificatePEM: try ca.serializeAsPEM().pemString + "\n",
                caKeyPEM: caKey.pemRepresentation + "\n",
                certificatePEM: try server.serializeAsPEM().pemString + "\n",
                keyPEM: serverKey.pemRepresentation + "\n")
        } catch let error as CertificateAuthorityError {
            throw error
        } catch {
            throw .cannotIssue(reason: "\(error)")
        }
    }

    /// Issues a CA and a certificate for `names` and writes them into `directory` (made if
    /// missing) as ca.pem, ca-key.pem, cert.pem and key.pem; the key files are mode 0600.
    /// Existing files of those names are replaced.
    public static func write(to directory: String, names: [String]) throws(CertificateAuthorityError) -> Files {
        let issued = try issue(names: names)
        if mkdir(directory, 0o755) != 0, errno != EEXIST {
            throw .cannotWrite(path: directory, reason: String(cString: strerror(errno)))
        }
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        let files = Files(caCertificate: base + "ca.pem", caKey: base + "ca-key.pem", certificate: base + "cert.pem", key: base + "key.pem")
        // Keys first: a failure then leaves no certificate without its key.
        try writeFile(files.caKey, issued.caKeyPEM, mode: 0o600)
        try writeFile(files.key, issued.keyPEM, mode: 0o600)
        try writeFile(files.caCertificate, issued.caCertificatePEM, mode: 0o644)
        try writeFile(files.certificate, issued.certificatePEM, mode: 0o644)
        return files
    }

    /// An IP address SAN for an address, a DNS SAN for anything else.
    static func generalName(_ name: String) throws(CertificateAuthorityError) -> GeneralName {
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v4) { ArraySlice($0) }))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v6) { ArraySlice($0) }))
        }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "*")
        }
        guard !name.isEmpty, allowed else { throw .badName(name) }
        return .dnsName(name)
    }

    /// Writes `text` with `mode` set before any byte is in the file (an existing file is
    /// truncated and its mode reset, so an old world-readable key file does not stay so).
    private static func writeFile(_ path: String, _ text: String, mode: mode_t) throws(CertificateAuthorityError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
            }
            written += count
        }
    }
}

/// Why `replayd cert` could not make its files.
public enum CertificateAuthorityError: Error, Equatable, CustomStringConvertible {
    case badName(String)
    case cannotIssue(reason: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .badName(let name):
            return "\"\(name)\" is neither a host name nor an IP address"
        case .cannotIssue(let reason):
            return "cannot make the certificates: \(reason)"
        case .cannotWrite(let path, let reason):
            return "\(path): cannot write: \(reason)"
        }
    }
}
