import NIOCore
import NIOSSL

/// Words for why a TLS handshake failed, from swift-nio-ssl's errors and BoringSSL's error
/// strings, for the log line and the `tls` event's `failure`. BoringSSL's own code names are
/// kept at the end in brackets so that a reason not mapped here can still be looked up.
public enum TLSFailureReason {
    /// The known BoringSSL reason codes, in the order they are looked for, and what they mean.
    static let phrases: [(code: String, words: String)] = [
        ("TLSV1_ALERT_UNKNOWN_CA", "the peer does not trust the certificate (unknown CA)"),
        ("SSLV3_ALERT_BAD_CERTIFICATE", "the peer rejected the certificate (bad certificate)"),
        ("SSLV3_ALERT_CERTIFICATE_EXPIRED", "the peer rejected the certificate (expired)"),
        ("TLSV1_ALERT_ACCESS_DENIED", "the peer denied access"),
        ("CERTIFICATE_VERIFY_FAILED", "the certificate is not trusted (unknown CA, expired or invalid)"),
        ("TLSV1_ALERT_PROTOCOL_VERSION", "no TLS protocol version in common (protocol version)"),
        ("UNSUPPORTED_PROTOCOL", "no TLS protocol version in common (protocol version)"),
        ("WRONG_VERSION_NUMBER", "the peer does not speak TLS here (wrong version number)"),
        ("HTTP_REQUEST", "the peer sent plaintext HTTP, not TLS"),
        ("NO_SHARED_CIPHER", "no cipher suite in common"),
        ("NO_CIPHERS_AVAILABLE", "no cipher suite in common"),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", "the peer aborted the handshake (handshake failure alert)"),
        ("TLSV1_ALERT_DECRYPT_ERROR", "the peer could not verify the handshake (decrypt error)"),
        ("TLSV1_UNRECOGNIZED_NAME", "the peer does not know the server name asked for (unrecognized name)"),
        ("TLSV1_ALERT_INTERNAL_ERROR", "the peer had an internal error"),
        ("WRONG_SSL_VERSION", "no TLS protocol version in common (protocol version)"),
        ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "the peer sent no certificate"),
        ("EOF during handshake", "the peer closed the connection during the handshake"),
        // What a TLS 1.3 client that rejects the certificate often leaves behind: its alert
        // cannot be read (it is sent under keys the server has not switched to).
        ("DECRYPTION_FAILED_OR_BAD_RECORD_MAC", "the peer aborted the handshake (its last record could not be decrypted; often a client that does not trust the certificate)"),
    ]

    /// The reason when `error` is a TLS failure, nil for any other error (a reset, a closed
    /// channel) and for a peer that merely closed without close_notify: handlers that see every
    /// error of a connection tell the two apart with it.
    public static func describeIfTLS(_ error: any Error) -> String? {
        if let error = error as? NIOSSLError, case .uncleanShutdown = error { return nil }
        guard error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError else { return nil }
        return describe(error)
    }

    /// A short reason for a handshake `error` seen on one leg.
    public static func describe(_ error: any Error) -> String {
        if let extra = error as? NIOSSLExtraError {
            if extra == .failedToValidateHostname {
                return "the certificate is not for the name asked for (name mismatch): \(extra.description)"
            }
            if extra == .serverHostnameImpossibleToMatch {
                return "the server name cannot match any certificate (name mismatch)"
            }
            return "\(extra)"
        }
        if let error = error as? NIOSSLError {
            switch error {
            case .handshakeFailed(let inner):
                return describe(boringSSL: inner)
            case .uncleanShutdown:
                return "the peer closed the connection during the handshake"
            case .noCertificateToValidate:
                return "the peer sent no certificate"
            case .unableToValidateCertificate:
                return "the certificate could not be validated"
            default:
                return "\(error)"
            }
        }
        if let error = error as? BoringSSLError {
            return describe(boringSSL: error)
        }
        if let error = error as? IOError {
            return "connection failed during the handshake: \(error.description)"
        }
        return "\(error)"
    }

    static func describe(boringSSL error: BoringSSLError) -> String {
        let text = "\(error)"
        for (code, words) in phrases where text.contains(code) {
            return "\(words) [\(code)]"
        }
        switch error {
        case .zeroReturn, .syscallError:
            return "the peer closed the connection during the handshake"
        default:
            // BoringSSL's reason codes without its source paths.
            let codes = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "]" }).compactMap { word -> String? in
                guard let range = word.range(of: "OPENSSL_internal:") else { return nil }
                return String(word[range.upperBound...])
            }
            return codes.isEmpty ? text : "handshake failed [\(codes.joined(separator: ", "))]"
        }
    }
}
