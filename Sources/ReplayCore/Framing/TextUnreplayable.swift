/// Why a recorded text-protocol exchange cannot be replayed to another client, shared by the
/// SMTP, POP3, IMAP and FTP dialects: a switch to TLS (the recorded handshake is bound to the
/// recorded client's random values) and SCRAM authentication (the server's final message
/// proves knowledge of the recorded client's nonce, so a live client rejects it).
enum TextUnreplayable {
    static func startTLS(_ command: String) -> String {
        "the client asked for \(command): the rest of the recorded session is TLS ciphertext, which cannot be replayed to another client; record it as plaintext with replayd record --starttls PROTO --tls-cert CERT --tls-key KEY (see docs/tls.md), or with TLS off on the client (e.g. swaks without --tls)"
    }

    /// The reason for a SASL `mechanism`, or `nil` when it replays fine (PLAIN, LOGIN,
    /// CRAM-MD5, XOAUTH2: the server's answer does not depend on the client's random values).
    static func sasl(mechanism: String) -> String? {
        guard mechanism.uppercased().hasPrefix("SCRAM-") else { return nil }
        return "the client authenticated with \(mechanism.uppercased()): the server's final SCRAM message is bound to the recorded client's nonce, so another client rejects it; record with AUTH PLAIN or LOGIN instead"
    }
}
