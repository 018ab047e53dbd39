import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// The TLS half of `ProxySession` (`record --tls-cert`, `--upstream-tls`, `--starttls`): TLS
/// handlers in front of each glue so the tap sees plaintext, the STARTTLS negotiation's actions
/// carried out, the `tls` marker written where TLS began and handshake failures recorded.
/// `SessionTLS` holds the state; the session's own members it uses are internal for this file.
extension ProxySession {
    /// Puts the client leg's TLS in front of the glue: an SNI reader (which learns the name
    /// the client asks for, then steps aside), then the TLS server. Plaintext reaches the glue,
    /// and so the tap, only after them.
    func startClientTLS(on channel: Channel) throws {
        guard var tls, let context = tls.options.clientContext else { return }
        let handler = NIOSSLServerHandler(context: context)
        let session = NIOLoopBound(self, eventLoop: eventLoop)
        let loop = eventLoop
        let sni = ByteToMessageHandler(SNIHandler { result in
            session.value.clientSNI(result)
            return loop.makeSucceededVoidFuture()
        })
        let sniffer = CipherSuiteSniffer(serverBytes: .outbound)
        try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        try channel.pipeline.syncOperations.addHandler(sni, position: .first)
        try channel.pipeline.syncOperations.addHandler(sniffer, position: .first)
        tls.clientHandler = handler
        tls.clientSniffer = sniffer
        tls.clientHandshaking = true
        tls.holdsServer = true
        self.tls = tls
    }

    /// The client's ClientHello was read: its server name (if any) is passed on upstream.
    private func clientSNI(_ result: SNIResult) {
        guard tls != nil else { return }
        if case .hostname(let name) = result { tls?.clientSNI = name }
        if tls?.connectWaitsForSNI == true {
            tls?.connectWaitsForSNI = false
            connectUpstream()
        }
    }

    /// With implicit TLS to the upstream, what goes in front of its glue, socket side first:
    /// the reader of the upstream's ServerHello, then the TLS client.
    func implicitUpstreamTLSHandlers() throws -> [any ChannelHandler] {
        guard var tls, tls.isImplicit, let context = tls.options.upstreamContext else { return [] }
        let handler = try NIOSSLClientHandler(context: context, serverHostname: tls.upstreamServerName)
        let sniffer = CipherSuiteSniffer(serverBytes: .inbound)
        tls.upstreamHandshaking = true
        tls.upstreamHandler = handler
        tls.upstreamSniffer = sniffer
        self.tls = tls
        return [sniffer, handler]
    }

    /// Whether the TLS side took `buffer` (held it, or carried out the STARTTLS negotiation's
    /// actions on it); if not, it is forwarded as usual.
    func tlsIntercepts(_ buffer: ByteBuffer, from side: ProxySide) -> Bool {
        guard var tls else { return false }
        if side == .server, tls.holdsServer {
            tls.heldServer.append(buffer)
            self.tls = tls
            return true
        }
        guard var negotiation = tls.negotiation, !negotiation.isDone else { return false }
        let bytes = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
        let actions = side == .client ? negotiation.clientBytes(bytes) : negotiation.serverBytes(bytes)
        tls.negotiation = negotiation
        self.tls = tls
        for action in actions {
            switch action {
            case .forward(let from, let bytes):
                var out = glue(from)?.channel?.allocator.buffer(capacity: bytes.count) ?? ByteBuffer()
                out.writeBytes(bytes)
                forward(out, from: from)
            case .discard(let from, let count):
                logger.warning(from == .client
                    ? "discarded \(count) bytes of plaintext the client sent after its STARTTLS request: they are never carried into the TLS session"
                    : "discarded \(count) bytes the server sent after accepting STARTTLS, before TLS began")
            case .refused(let answer):
                logger.info("the upstream refused STARTTLS (\(answer)); the session goes on in plaintext")
            case .upgrade:
                upgrade()
            }
        }
        return true
    }

    /// The server accepted STARTTLS and its answer is on its way to the client: both legs
    /// switch to TLS now, in this event loop turn, so nothing is read between the answer and
    /// the TLS handlers. The upstream leg starts its handshake at once.
    private func upgrade() {
        // The answer goes out as plaintext, ahead of anything TLS writes.
        client?.flush()
        guard var tls else { return }
        if let context = tls.options.upstreamContext, let channel = upstreamChannel {
            do {
                let handler = try NIOSSLClientHandler(context: context, serverHostname: tls.upstreamServerName)
                let sniffer = CipherSuiteSniffer(serverBytes: .inbound)
                try channel.pipeline.syncOperations.addHandler(handler, position: .first)
                try channel.pipeline.syncOperations.addHandler(sniffer, position: .first)
                tls.upstreamHandshaking = true
                tls.upstreamHandler = handler
                tls.upstreamSniffer = sniffer
            } catch {
                self.tls = tls
                _ = tlsFailed(.server, error: error)
                run(tap.failed(.server, now: Self.now()))
                return
            }
        }
        self.tls = tls
        if let channel = client?.channel {
            do {
                try startClientTLS(on: channel)
            } catch {
                _ = tlsFailed(.client, error: error)
                run(tap.failed(.client, now: Self.now()))
            }
        }
    }

    /// A TLS handler on `side`'s channel finished its handshake.
    func tlsEvent(_ event: TLSUserEvent, on side: ProxySide) {
        guard var tls, case .handshakeCompleted(let alpn) = event else { return }
        if side == .server {
            tls.upstreamHandshaking = false
            self.tls = tls
            logger.debug("TLS with the upstream established")
            if tls.options.clientContext == nil {
                // Only the upstream leg is TLS: its handshake is where TLS began.
                record(tap.marker(.tls(TLSMarker(version: SessionTLS.name(tls.upstreamHandler?.tlsVersion), cipher: tls.upstreamSniffer?.cipherName,
                                                 sni: tls.upstreamServerName, alpn: alpn)), now: Self.now()))
            }
            return
        }
        tls.clientHandshaking = false
        tls.holdsServer = false
        let held = tls.heldServer
        tls.heldServer = []
        let marker = TLSMarker(version: SessionTLS.name(tls.clientHandler?.tlsVersion), cipher: tls.clientSniffer?.cipherName,
                               sni: tls.clientSNI, alpn: alpn)
        self.tls = tls
        logger.debug("TLS with the client established (\(marker.version ?? "?"))")
        record(tap.marker(.tls(marker), now: Self.now()))
        for buffer in held { forward(buffer, from: .server) }
        if !held.isEmpty { client?.flush() }
    }

    /// An error on `side` while TLS is involved. A handshake failure is logged with its reason
    /// and recorded as a `tls` event with `failure`; the connection then ends as a failed side
    /// does. Answers true for an error that is no failure: a TLS peer that closed without
    /// close_notify, whose FIN follows and ends the side.
    func tlsFailed(_ side: ProxySide, error: any Error) -> Bool {
        guard var tls else { return false }
        let handshaking = side == .client ? tls.clientHandshaking : tls.upstreamHandshaking
        if !handshaking {
            if SessionTLS.isRaggedEOF(error) {
                logger.debug("\(side.rawValue) side closed TLS without close_notify")
                return true
            }
            return false
        }
        let leg: TLSLeg = side == .client ? .client : .upstream
        if side == .client {
            tls.clientHandshaking = false
            tls.holdsServer = false
            tls.heldServer = []
        } else {
            tls.upstreamHandshaking = false
        }
        self.tls = tls
        let reason = TLSFailureReason.describe(error)
        logger.warning("TLS handshake with the \(side == .client ? "client" : "upstream") failed: \(reason)")
        record(tap.marker(.tls(TLSMarker(sni: side == .client ? tls.clientSNI : tls.upstreamServerName, failure: reason, leg: leg)), now: Self.now()))
        return false
    }

    func glue(_ side: ProxySide) -> GlueHandler? {
        side == .client ? client : server
    }
}
