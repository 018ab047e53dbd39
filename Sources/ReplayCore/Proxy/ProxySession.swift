import Logging
import NIOCore
import NIOPosix

/// One proxied connection on one event loop: owns the `SessionTap` and the `ReadGate`, runs
/// their actions on the two `GlueHandler`s, connects the upstream, and hands events to the
/// cassette recorder (through its `ProtocolTagger`, which holds the `open` until the first
/// chunk says what protocol the session speaks, then its `Redactor`, which replaces secrets).
final class ProxySession {
    // The members without `private` are the ones its TLS half (ProxySessionTLS.swift) uses.
    var tap: SessionTap
    private var tagger: ProtocolTagger
    /// What the tagger lets through, reused.
    private var tagged: [SessionEvent] = []
    /// Replaces secrets after the tagger (nil: `--no-redact`).
    private var redactor: Redactor?
    private var redacted: [SessionEvent] = []
    private var gate = ReadGate()
    let eventLoop: EventLoop
    private let recorder: CassetteRecorder
    let logger: Logger
    private let onFinished: (ConnectionSummary) -> Void
    var client: GlueHandler?
    var server: GlueHandler?
    var upstreamChannel: Channel?
    private var cancelUpstream = false
    private var upstreamReady = false
    private var clientIsActive = false
    private var stopRequested = false
    private var connectStarted: Int64 = 0
    /// Bytes the client sent before the upstream was connected, read (and recorded, with their
    /// times) while it connects. Sent once connected.
    private var heldForServer: [ByteBuffer] = []
    private var heldBytes = 0
    /// Reading the client's last bytes after a connect failure (see `SessionTap.Action.drainClient`).
    private var drainingClient = false
    private var drainTimer: Scheduled<Void>?
    /// `--fault` rules for this connection.
    private var faults: LiveFaultPlan?
    /// A `stall` fault fired: nothing the server sends reaches the client any more (with
    /// `dir=c2s`: nothing the client sends reaches the server).
    private var stalled = false
    private var clientStalled = false
    /// Server bytes a `delay=`, `slow=` or `slice=` fault holds or paces on their way to the client.
    private var outbox = PacedOutbox()
    private var outboxTimer: Scheduled<Void>?
    /// What must wait until the client has been sent every byte the outbox holds: the server's
    /// FIN or RST, an injected ending. Run in order once the outbox is empty.
    private var afterOutbox: [() -> Void] = []
    /// The `at=` rules' timers.
    private var timedFaults: [Scheduled<Void>] = []
    /// TLS on either leg (`record --tls-cert`, `--upstream-tls`, `--starttls`); nil: plain TCP.
    var tls: SessionTLS?

    /// Client bytes read ahead while the upstream connects; beyond this, TCP holds the client back.
    static let readAheadLimit = 64 * 1024
    /// Server bytes the outbox may hold; beyond this the server is not read (TCP holds it back).
    static let outboxLimit = 64 * 1024
    /// How long the client's last bytes are waited for after a connect failure. Bytes that had
    /// arrived are readable at once; this only bounds the wait when there are none.
    static let drainGrace: TimeAmount = .milliseconds(20)

    init(
        tap: SessionTap, upstream: SocketAddress, connectTimeout: TimeAmount, eventLoop: EventLoop,
        recorder: CassetteRecorder, tagger: ProtocolTagger = ProtocolTagger(), redactor: Redactor? = nil, logger: Logger,
        faults: LiveFaultPlan? = nil, upstreamSockets: UpstreamSockets? = nil, tls: ProxyTLSOptions? = nil,
        onFinished: @escaping (ConnectionSummary) -> Void
    ) {
        self.tap = tap
        self.upstreamSockets = upstreamSockets
        self.tls = tls.map(SessionTLS.init)
        self.faults = faults.flatMap { $0.isActive ? $0 : nil }
        self.tagger = tagger
        self.redactor = redactor
        self.upstream = upstream
        self.connectTimeout = connectTimeout
        self.eventLoop = eventLoop
        self.recorder = recorder
        self.logger = logger
        self.onFinished = onFinished
    }

    static func now() -> Int64 {
        Int64(NIODeadline.now().uptimeNanoseconds)
    }

    private let upstream: SocketAddress
    private let connectTimeout: TimeAmount
    /// Transparent mode: marks the upstream socket and keeps its address known while it is open.
    private let upstreamSockets: UpstreamSockets?

    /// Adds the client glue to the accepted channel (not registered yet) and records `open`.
    /// The upstream connection starts once the client channel is active (`clientActive`), so
    /// that closing the client always produces `channelInactive` and so the session's `end`.
    func start(clientChannel: Channel) throws {
        let clientGlue = GlueHandler(side: .client, session: self)
        client = clientGlue
        server = GlueHandler(side: .server, session: self)
        try clientChannel.pipeline.syncOperations.addHandler(clientGlue)
        if let tls, tls.isImplicit, tls.options.clientContext != nil {
            try startClientTLS(on: clientChannel)
        }
        run(tap.accepted())
        if let tls, tls.isImplicit, tls.options.clientContext == nil, tls.options.upstreamContext != nil {
            // Only the upstream leg is TLS: it begins with the connection.
            record(tap.marker(.tls(TLSMarker(sni: tls.upstreamServerName)), now: Self.now()))
        }
    }

    func clientActive() {
        clientIsActive = true
        if stopRequested {
            run(tap.stop(now: Self.now()))
        }
        guard server != nil else { return }
        if var faults, let firing = faults.refusal() {
            self.faults = nil
            logger.warning("\(firing.logLine)")
            cancelUpstream = true
            run(tap.refused(InjectedFault(rule: firing.rule, action: firing.action.name, detail: "reset at accept; the upstream was not contacted"),
                            now: Self.now()))
            return
        }
        startTimedFaults()
        if tls?.connectWaitsForSNI == true {
            // Connected once the ClientHello names the server (`clientSNI`).
            client?.read()
            return
        }
        connectUpstream()
        // Read (and record) what the client sends while the upstream connects, so that a failed
        // attempt still records it, at the times it came.
        client?.read()
    }

    func connectUpstream() {
        guard let serverGlue = server else { return }
        if cancelUpstream {
            // Stopped before the attempt began: the upstream side is over without one.
            upstreamFailed(ChannelError.ioOnClosedChannel)
            return
        }
        connectStarted = Self.now()
        let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
        let loopBoundGlue = NIOLoopBound(serverGlue, eventLoop: eventLoop)
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
        if let upstreamSockets { bootstrap = upstreamSockets.configure(bootstrap) }
        let tracker = upstreamSockets.map { NIOLoopBound($0.tracker(), eventLoop: eventLoop) }
        let connected = bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let session = loopBoundSelf.value
                    if session.cancelUpstream { throw ChannelError.ioOnClosedChannel }
                    session.upstreamChannel = channel
                    if let tracker { try channel.pipeline.syncOperations.addHandler(tracker.value) }
                    for handler in try session.implicitUpstreamTLSHandlers() {
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(loopBoundGlue.value)
                }
            }
            .connect(to: upstream)
        connected.assumeIsolated().whenFailure { error in
            self.upstreamFailed(error)
        }
    }

    // MARK: Events from the glue handlers

    func upstreamActive() {
        run(tap.upstreamConnected(now: Self.now()))
    }

    private func upstreamFailed(_ error: any Error) {
        let now = Self.now()
        let failure = UpstreamConnectFailure.classify(error, elapsed: now - connectStarted)
        run(tap.upstreamFailed(failure, now: now))
    }

    func read(_ buffer: ByteBuffer, from side: ProxySide) {
        if tls != nil, tlsIntercepts(buffer, from: side) { return }
        forward(buffer, from: side)
    }

    /// Records and forwards what `side` sent (through the faults, when any apply).
    func forward(_ buffer: ByteBuffer, from side: ProxySide) {
        if stalled, side == .server { return }
        if clientStalled, side == .client {
            // Recorded (the client did send it), never forwarded.
            record(tap.read(buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? [], from: .client, now: Self.now()))
            return
        }
        if var faults {
            let bytes = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
            if side == .client, let firing = faults.clientBytes(bytes) {
                self.faults = faults
                clientFault(firing, bytes: bytes)
                return
            } else if side == .client {
                self.faults = faults
            } else if let decision = faults.serverBytes(bytes) {
                self.faults = faults
                carryOut(decision)
                return
            } else {
                self.faults = faults
            }
        }
        if side == .server, outbox.isEngaged {
            toClient(buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? [], delay: 0)
            return
        }
        let event = tap.read(buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? [], from: side, now: Self.now())
        record(event)
        if side == .client, !upstreamReady {
            heldForServer.append(buffer)
            heldBytes += buffer.readableBytes
        } else {
            glue(side.partner)?.write(buffer)
        }
    }

    /// A `dir=c2s` fault: the client's message is recorded (it was sent) but does not reach the
    /// server; the client is reset, closed, answered with the rule's text, or ignored.
    private func clientFault(_ firing: FaultPlan.Firing, bytes: [UInt8]) {
        logger.warning("\(firing.logLine)")
        let now = Self.now()
        record(tap.read(bytes, from: .client, now: now))
        let fault = InjectedFault(rule: firing.rule, action: firing.action.name,
                                  detail: "the client's \(bytes.count) bytes were not forwarded to the server")
        switch firing.action {
        case .reset, .close:
            faults = nil
            run(tap.injected(fault, reset: firing.action == .reset, now: now))
        case .reply(let text):
            record(tap.marker(.fault(fault), now: now))
            toClient(Array(text.utf8) + (faults?.lineEnding ?? [0x0D, 0x0A]), delay: 0)
        default:
            record(tap.marker(.fault(fault), now: now))
            if firing.action == .stall { clientStalled = true }
        }
    }

    /// Carries out what a fault made of the server's bytes (`LiveFaultPlan.serverBytes`).
    private func carryOut(_ decision: LiveFaultPlan.Decision) {
        for firing in decision.firings { logger.warning("\(firing.logLine)") }
        for step in decision.steps {
            switch step {
            case .forward(let bytes, let delay), .answer(let bytes, let delay):
                toClient(bytes, delay: delay)
            case .mark(let fault):
                record(tap.marker(.fault(fault), now: Self.now()))
            case .shape(let rate, let slice):
                outbox.shape(rate: rate, slice: slice)
            case .stall:
                stalled = true
            case .end(let fault, let reset):
                faults = nil
                afterClientIsSent { $0.run($0.tap.injected(fault, reset: reset, now: Self.now())) }
            }
        }
    }

    /// Server-side bytes for the client (the server's, or a fault's in its place): recorded as
    /// what the server side sent when they go out, since that is what the client got. Through
    /// the outbox when a fault holds or paces them.
    private func toClient(_ bytes: [UInt8], delay: Int64) {
        guard !bytes.isEmpty else { return }
        if delay > 0 || outbox.isEngaged {
            outbox.add(bytes, now: Self.now(), delay: delay)
            pumpOutbox()
            return
        }
        record(tap.read(bytes, from: .server, now: Self.now()))
        write(bytes)
        client?.flush()
    }

    /// Server-side bytes onto the client's channel (not flushed).
    private func write(_ bytes: [UInt8]) {
        guard let client else { return }
        var out = client.channel?.allocator.buffer(capacity: bytes.count) ?? ByteBuffer()
        out.writeBytes(bytes)
        client.write(out)
    }

    /// Writes what the outbox has due, runs what waited for it to empty, and comes back when
    /// the next write is due. Resumes a server read held while the outbox was full.
    private func pumpOutbox() {
        outboxTimer?.cancel()
        outboxTimer = nil
        let now = Self.now()
        let due = outbox.takeDue(now: now)
        for bytes in due {
            record(tap.read(bytes, from: .server, now: now))
            write(bytes)
        }
        if !due.isEmpty { client?.flush() }
        if outbox.isEmpty { runAfterOutbox() }
        if let next = outbox.nextDue {
            let session = NIOLoopBound(self, eventLoop: eventLoop)
            outboxTimer = eventLoop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(UInt64(max(0, next)))) { session.value.pumpOutbox() }
        }
        if outbox.queuedBytes < Self.outboxLimit, client?.isWritable == true {
            runGate(gate.becameWritable(.client))
        }
    }

    private func runAfterOutbox() {
        while !afterOutbox.isEmpty {
            afterOutbox.removeFirst()()
        }
    }

    /// Runs `work` now, or once every byte the outbox holds has been sent to the client.
    private func afterClientIsSent(_ work: @escaping (ProxySession) -> Void) {
        if outbox.isEmpty {
            work(self)
        } else {
            afterOutbox.append { [self] in work(self) }
        }
    }

    /// The client is gone or the proxy stops: what the outbox holds cannot be delivered.
    private func abandonOutbox() {
        guard !outbox.isEmpty || !afterOutbox.isEmpty else { return }
        outboxTimer?.cancel()
        outboxTimer = nil
        outbox.discard()
        runAfterOutbox()
    }

    /// `at=` rules: reset or close the connection that long after it was accepted.
    private func startTimedFaults() {
        guard let faults else { return }
        let session = NIOLoopBound(self, eventLoop: eventLoop)
        for (at, index) in faults.timedRules {
            timedFaults.append(eventLoop.scheduleTask(in: .nanoseconds(at)) { session.value.fireTimed(index) })
        }
    }

    private func fireTimed(_ index: Int) {
        guard var faults, let firing = faults.fireTimed(index) else { return }
        // Other actions wait, armed, for the server's next bytes.
        guard FaultPlan.actsAtOnce(firing.action) else {
            self.faults = faults
            return
        }
        let fault = InjectedFault(rule: firing.rule, action: firing.action.name, detail: firing.point)
        logger.warning("\(firing.logLine)")
        if firing.action == .stall {
            self.faults = faults
            stalled = true
            record(tap.marker(.fault(fault), now: Self.now()))
            return
        }
        self.faults = nil
        // A time is a time: what a delay still holds is not waited for.
        abandonOutbox()
        run(tap.injected(fault, reset: firing.action == .reset, now: Self.now()))
    }

    func readComplete(from side: ProxySide) {
        (side == .client ? server : client)?.flush()
        guard side == .client else { return }
        if drainingClient {
            clientDrained()
        } else if !upstreamReady, upstreamChannel?.isActive != true, heldBytes < Self.readAheadLimit {
            client?.read()
        }
    }

    private func clientDrained() {
        guard drainingClient else { return }
        drainingClient = false
        drainTimer?.cancel()
        drainTimer = nil
        run(tap.clientDrained(now: Self.now()))
    }

    // The server's ending waits behind the bytes the outbox still owes the client; the
    // client's ending makes them undeliverable.

    func inputClosed(_ side: ProxySide) {
        if side == .server, !outbox.isEmpty {
            afterOutbox.append { [self] in run(tap.inputClosed(.server, now: Self.now())) }
            return
        }
        run(tap.inputClosed(side, now: Self.now()))
    }

    func failed(_ side: ProxySide, error: any Error) {
        if tls != nil, tlsFailed(side, error: error) { return }
        logger.debug("\(side.rawValue) side failed: \(error)")
        if side == .server, !outbox.isEmpty {
            afterOutbox.append { [self] in run(tap.failed(.server, now: Self.now())) }
            return
        }
        if side == .client { abandonOutbox() }
        run(tap.failed(side, now: Self.now()))
    }

    func inactive(_ side: ProxySide) {
        if side == .server, !outbox.isEmpty {
            afterOutbox.append { [self] in run(tap.inactive(.server, now: Self.now())) }
            return
        }
        if side == .client { abandonOutbox() }
        run(tap.inactive(side, now: Self.now()))
    }

    /// `side`'s channel wants to read: the gate lets it through or holds it.
    func readRequested(_ side: ProxySide) {
        var partnerWritable = glue(side.partner)?.isWritable ?? false
        if side == .server, outbox.queuedBytes >= Self.outboxLimit { partnerWritable = false }
        runGate(gate.readRequested(side, partnerWritable: partnerWritable))
    }

    /// `side` can take writes again: resume the held read on the other side.
    func becameWritable(_ side: ProxySide) {
        if side == .client, outbox.queuedBytes >= Self.outboxLimit { return }
        runGate(gate.becameWritable(side))
    }

    /// The recorder has caught up (lossless mode): resume the held reads.
    private func recorderDrained() {
        let writable = Set([ProxySide.client, .server].filter { glue($0)?.isWritable ?? false })
        runGate(gate.recorderDrained(writable: writable))
    }

    /// The proxy is stopping. Before the client channel is active a close would go unseen,
    /// so the stop waits for `clientActive`.
    func stop() {
        guard clientIsActive else {
            stopRequested = true
            return
        }
        abandonOutbox()
        run(tap.stop(now: Self.now()))
    }

    // MARK: Carrying out the tap's actions

    func run(_ actions: [SessionTap.Action]) {
        for action in actions {
            switch action {
            case .record(let event):
                record(event)
            case .startReadingClient:
                upstreamReady = true
                if let server {
                    for buffer in heldForServer { server.write(buffer) }
                    heldForServer.removeAll()
                    heldBytes = 0
                    server.flush()
                }
                client?.startReading()
            case .drainClient:
                drainingClient = true
                heldForServer.removeAll()
                heldBytes = 0
                client?.read()
                let session = NIOLoopBound(self, eventLoop: eventLoop)
                drainTimer = eventLoop.scheduleTask(in: Self.drainGrace) { session.value.clientDrained() }
            case .shutdownOutput(let side):
                glue(side)?.shutdownOutput()
            case .drainAndClose(let side):
                glue(side)?.drainAndClose()
            case .reset(let side):
                glue(side)?.reset()
            case .close(let side):
                if side == .client {
                    client?.close()
                } else if let upstreamChannel {
                    // Also cancels an attempt still in progress.
                    upstreamChannel.close(promise: nil)
                } else {
                    cancelUpstream = true
                    if tls?.connectWaitsForSNI == true {
                        // No attempt will begin to be cancelled: the upstream side ends here.
                        tls?.connectWaitsForSNI = false
                        upstreamFailed(ChannelError.ioOnClosedChannel)
                    }
                }
            case .finished(let summary):
                logger.info("\(summary.line)")
                for timer in timedFaults { timer.cancel() }
                timedFaults = []
                outboxTimer?.cancel()
                outboxTimer = nil
                client?.session = nil
                server?.session = nil
                client = nil
                server = nil
                upstreamChannel = nil
                onFinished(summary)
            }
        }
    }

    /// Hands an event to the recorder through the tagger and the redactor. None of them can
    /// fail or block: the bytes are forwarded whatever becomes of their recording.
    func record(_ event: SessionEvent) {
        tagger.take(event, into: &tagged)
        if redactor != nil {
            redactor?.take(tagged, into: &redacted)
            if case .end = event.kind { redactor?.finish(into: &redacted) }
            swap(&tagged, &redacted)
            redacted.removeAll(keepingCapacity: true)
        }
        var backlogged = false
        for event in tagged {
            if recorder.record(event) == .backlogged { backlogged = true }
        }
        tagged.removeAll(keepingCapacity: true)
        if backlogged { runGate(gate.recorded(backlogged: true)) }
    }

    private func runGate(_ actions: [ReadGate.Action]) {
        for action in actions {
            switch action {
            case .read(let side):
                glue(side)?.read()
            case .waitForRecorder:
                // Keeps the session alive until the recorder calls back, even if it ends meanwhile.
                let session = NIOLoopBound(self, eventLoop: eventLoop)
                recorder.whenDrained(on: eventLoop) { session.value.recorderDrained() }
            }
        }
    }
}
