import NIOSSL

/// Words for a failed TLS handshake: BoringSSL's reason codes say what went wrong, but in a
/// form (`TLSV1_ALERT_UNKNOWN_CA`) that a user should not have to look up.
public enum TLSFailureText {
    /// What went wrong, or nil when `error` is not a TLS error.
    public static func describe(_ error: any Error) -> String? {
        let text: String
        switch error {
        case let error as NIOSSLError:
            if case .uncleanShutdown = error { return "the peer closed the connection without ending TLS (no close_notify)" }
            text = String(describing: error)
        case let error as BoringSSLError:
            text = String(describing: error)
        case let error as NIOSSLExtraError:
            text = String(describing: error)
        default:
            return nil
        }
        let codes = reasonCodes(in: text)
        return "\(reason(in: text)) (\(codes.isEmpty ? text : codes.joined(separator: ", ")))"
    }

    /// BoringSSL's reason codes in its error text (`...:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at file:line`),
    /// without the source locations that make the text long and say nothing to a user.
    static func reasonCodes(in text: String) -> [String] {
        var codes: [String] = []
        for part in text.components(separatedBy: "OPENSSL_internal:").dropFirst() {
            let code = part.prefix { $0.isUppercase || $0.isNumber || $0 == "_" }
            if !code.isEmpty, !codes.contains(String(code)) { codes.append(String(code)) }
        }
        return codes
    }

    /// The reason in words for BoringSSL's error text.
    static func reason(in text: String) -> String {
        let upper = text.uppercased()
        let reasons: [(code: String, words: String)] = [
            ("UNKNOWN_CA", "the peer does not trust the certificate (unknown CA)"),
            ("CERTIFICATE_VERIFY_FAILED", "the certificate could not be verified (unknown CA, expired or not yet valid)"),
            ("HOSTNAME", "the certificate does not name the host (name mismatch)"),
            ("BAD_CERTIFICATE", "the peer rejected the certificate"),
            ("CERTIFICATE_EXPIRED", "the certificate has expired"),
            ("UNSUPPORTED_PROTOCOL", "no TLS version both sides accept (protocol version)"),
            ("PROTOCOL_VERSION", "no TLS version both sides accept (protocol version)"),
            ("WRONG_VERSION_NUMBER", "the peer did not speak TLS (wrong version number: plaintext where TLS was expected?)"),
            ("HTTP_REQUEST", "the peer sent plaintext HTTP where TLS was expected"),
            ("NO_SHARED_CIPHER", "no cipher both sides accept"),
            ("HANDSHAKE_FAILURE", "the peer ended the handshake (handshake failure alert)"),
        ]
        for reason in reasons where upper.contains(reason.code) { return reason.words }
        return "TLS handshake failed"
    }
}
