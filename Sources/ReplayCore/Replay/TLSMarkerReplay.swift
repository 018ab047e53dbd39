extension TLSMarker {
    /// Whether replay starts TLS where this marker stands: a marker that records a failed
    /// handshake says where TLS was tried, not where the plaintext continues over TLS.
    public var startsTLS: Bool { failure == nil }
}

extension Session {
    /// Whether the recorded client's own TLS handshake failed (it did not trust the recording
    /// proxy's certificate): the client never spoke, so there is no conversation to replay.
    public var clientTLSFailed: Bool {
        events.contains { if case .tls(let marker) = $0.kind { return marker.failure != nil && marker.leg == .client } else { return false } }
    }

    /// Whether replaying this session needs TLS: a `tls` event where TLS began.
    public var startsTLS: Bool {
        events.contains { if case .tls(let marker) = $0.kind { return marker.startsTLS } else { return false } }
    }
}
