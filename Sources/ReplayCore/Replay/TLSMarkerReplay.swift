extension TLSMarker {
    /// Whether replay starts TLS where this marker stands: a marker that records a failed
    /// handshake says where TLS was tried, not where the plaintext continues over TLS.
    public var startsTLS: Bool { true }
}

extension Session {
    /// Whether replaying this session needs TLS: a `tls` event where TLS began.
    public var startsTLS: Bool {
        events.contains { if case .tls(let marker) = $0.kind { return marker.startsTLS } else { return false } }
    }
}
