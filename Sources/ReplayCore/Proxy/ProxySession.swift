import Logging
import NIOCore
import NIOPosix

/// One proxied connection on one event loop: owns the `SessionTap` and the `ReadGate`, runs
/// their actions on the two `GlueHandler`s, connects the upstream, and hands events to the
/// cassette recorder (through its `ProtocolTagger`, which holds the `open` until the first
/// chunk says what protocol the session speaks, then its `Redactor`, which replaces secrets).
final class ProxySession {
    private var tap: SessionTap
    private var tagger: ProtocolTagger
    /// What the tagger lets through, reused.
    private var tagged: [SessionEvent] = []
    /// Replaces secrets after the tagger (nil: `--no-redact`).
    private var redactor: Redactor?
    private var redacted: [SessionEvent] = []
    private var gate = ReadGate()
    private let eventLoop: EventLoop
    private let recorder: CassetteRecorder
    private let logger: Logger
    private let onFinished: (ConnectionSummary) -> Void
    private var client: GlueHandler?
    private var server: GlueHandler?
    private var upstreamChannel: Channel?
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

    /// Client bytes read ahead while the upstream connects; beyond this, TCP holds the client back.
    static let readAheadLimit = 64 * 1024
    /// How long the client's last bytes are waited for after a connect failure. Bytes that had
    /// arrived are readable at once; this only bounds the wait when there are none.
    static let drainGrace: TimeAmount = .milliseconds(20)

    init(
        tap: SessionTap, upstream: SocketAddress, connectTimeout: TimeAmount, eventLoop: EventLoop,
        recorder: CassetteRecorder, tagger: ProtocolTagger = ProtocolTagger(), redactor: Redactor? = nil, logger: Logger,
        faults: LiveFaultPlan? = nil, onFinished: @escaping (ConnectionSummary) -> Void
    ) {
        self.tap = tap
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

    private static func now() -> Int64 {
        Int64(NIODeadline.now().uptimeNanoseconds)
    }

    private let upstream: SocketAddress
    private let connectTimeout: TimeAmount

    /// Adds the client glue to the accepted channel (not registered yet) and records `open`.
    /// The upstream connection starts once the client channel is active (`clientActive`), so
    /// that closing the client always produces `channelInactive` and so the session's `end`.
    func start(clientChannel: Channel) throws {
        let clientGlue = GlueHandler(side: .client, session: self)
        client = clientGlue
        server = GlueHandler(side: .server, session: self)
        try clientChannel.pipeline.syncOperations.addHandler(clientGlue)
        run(tap.accepted())
    }

    func clientActive() {
        clientIsActive = true
        if stopRequested {
            run(tap.stop(now: Self.now()))
        }
        guard let serverGlue = server else { return }
        if var faults, let firing = faults.refusal() {
            self.faults = nil
            logger.warning("\(firing.logLine)")
            cancelUpstream = true
            run(tap.refused(InjectedFault(rule: firing.rule, action: firing.action.name, detail: "reset at accept; the upstream was not contacted"),
                            now: Self.now()))
            return
        }
        if cancelUpstream {
            // Stopped before the attempt began: the upstream side is over without one.
            upstreamFailed(ChannelError.ioOnClosedChannel)
            return
        }
        connectStarted = Self.now()
        let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
        let loopBoundGlue = NIOLoopBound(serverGlue, eventLoop: eventLoop)
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let session = loopBoundSelf.value
                    if session.cancelUpstream { throw ChannelError.ioOnClosedChannel }
                    session.upstreamChannel = channel
                    try channel.pipeline.syncOperations.addHandler(loopBoundGlue.value)
                }
            }
            .connect(to: upstream)
        connected.assumeIsolated().whenFailure { error in
            self.upstreamFailed(error)
        }
        // Read (and record) what the client sends while the upstream connects, so that a failed
        // attempt still records it, at the times it came.
        client?.read()
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
            } else if let firing = faults.serverBytes(bytes) {
                // The server's reply is kept out of the client's way: it goes into the fault's record.
                logger.warning("\(firing.logLine)")
                let detail = "the server's \(bytes.count) bytes read and not forwarded: \(Escaped.text(Array(bytes.prefix(200))))"
                let fault = InjectedFault(rule: firing.rule, action: firing.action.name, detail: detail)
                switch firing.action {
                case .reset, .close:
                    self.faults = nil
                    run(tap.injected(fault, reset: firing.action == .reset, now: Self.now()))
                case .reply(let text):
                    self.faults = faults
                    answerClient(Array(text.utf8) + faults.lineEnding, fault: fault, now: Self.now())
                default:
                    // drop: these bytes are swallowed; stall: and every later server byte.
                    self.faults = faults
                    record(tap.marker(.fault(fault), now: Self.now()))
                    if firing.action == .stall { stalled = true }
                }
                return
            } else {
                self.faults = faults
            }
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
            answerClient(Array(text.utf8) + (faults?.lineEnding ?? [0x0D, 0x0A]), fault: fault, now: now)
            client?.flush()
        default:
            record(tap.marker(.fault(fault), now: now))
            if firing.action == .stall { clientStalled = true }
        }
    }

    /// A `reply=` fault: the client gets `reply` in the server's place. The cassette holds the
    /// fault, then `reply` as what the server side sent: what the client got, so a replay gives the same.
    private func answerClient(_ reply: [UInt8], fault: InjectedFault, now: Int64) {
        record(tap.marker(.fault(fault), now: now))
        record(tap.read(reply, from: .server, now: now))
        guard let client else { return }
        var out = client.channel?.allocator.buffer(capacity: reply.count) ?? ByteBuffer()
        out.writeBytes(reply)
        client.write(out)
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

    func inputClosed(_ side: ProxySide) {
        run(tap.inputClosed(side, now: Self.now()))
    }

    func failed(_ side: ProxySide, error: any Error) {
        logger.debug("\(side.rawValue) side failed: \(error)")
        run(tap.failed(side, now: Self.now()))
    }

    func inactive(_ side: ProxySide) {
        run(tap.inactive(side, now: Self.now()))
    }

    /// `side`'s channel wants to read: the gate lets it through or holds it.
    func readRequested(_ side: ProxySide) {
        runGate(gate.readRequested(side, partnerWritable: glue(side.partner)?.isWritable ?? false))
    }

    /// `side` can take writes again: resume the held read on the other side.
    func becameWritable(_ side: ProxySide) {
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
        run(tap.stop(now: Self.now()))
    }

    // MARK: Carrying out the tap's actions

    private func run(_ actions: [SessionTap.Action]) {
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
                }
            case .finished(let summary):
                logger.info("\(summary.line)")
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
    private func record(_ event: SessionEvent) {
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

    private func glue(_ side: ProxySide) -> GlueHandler? {
        side == .client ? client : server
    }
}
