#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Runs one `ConnectionReplayer` on one accepted connection: it feeds it what the client does
/// and the time, and carries out the actions it returns. It decides nothing itself.
///
/// Backpressure: the channel's writability (set by its write-buffer water marks) is fed to the
/// machine, which hands out one chunk per call and nothing while the channel is not writable,
/// so a client that stops reading holds at most about one high water mark of queued output.
///
/// Confined to its channel's event loop, like every channel handler.
final class ReplayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: ConnectionReplayer
    /// The server's logger, shared: per-connection metadata goes with each call (`log`), since
    /// setting it on a logger makes swift-log's stream handler format every value at once.
    private let logger: Logger
    /// Accept-order number, for log lines.
    private let connection: Int
    /// The session a byte-count plan replays (the others follow the cursor's choice).
    private let planSession: Int?
    private let reports: ReplayReportLog?
    /// Counts queued output when a test measures it (a promise per write; nil otherwise).
    private let queuedOutput: ReplayOutputGauge?
    private var context: ChannelHandlerContext?
    private var wakeup: Scheduled<Void>?
    /// Whether anything was written: an ending then waits for the writes before it.
    private var wrote = false
    /// Whether the client's FIN has come: NIO then turns an output close into a full close.
    private var inputClosed = false
    /// Actions still to carry out, in the machine's order. A write can report a writability
    /// change from inside `writeAndFlush`; the actions the machine answers with then wait here
    /// behind the ones already being carried out instead of overtaking them.
    private var pending = CircularBuffer<ReplayAction>()
    private var performing = false
    /// How many more wakeups due at once `perform` may run inline before it yields to the loop.
    private var inlineWakeups = 0
    /// Inline wakeups per event: a long burst of due chunks (a fast reader of a big reply) still
    /// lets the loop serve other connections every so many chunks.
    static let inlineWakeupBudget = 32
    /// The server side of TLS, for sessions recorded over TLS (nil: `--tls-cert` not given).
    private let tls: NIOSSLContext?
    private var started = false
    private var reported = false
    private var client: SocketAddress?
    /// One read's client bytes, in an array kept from read to read (the framer copies what it
    /// keeps): an array made per read showed in the profile.
    private var readBytes: [UInt8] = []
    /// The buffer the last reply was written from. The kernel usually takes a reply at once and
    /// NIO lets go of it, so the next reply is written into the same memory; while NIO still
    /// holds it, writing into it copies it first (a `ByteBuffer` is copy-on-write).
    private var replyBuffer: ByteBuffer?
    /// Buffers (and arrays) larger than this are not kept between events: a connection that
    /// once sent a megabyte does not hold a megabyte while it waits.
    static let keptBufferCapacity = 64 * 1024

    init(plan: ReplayPlan, options: ReplayOptions, connection: Int, queuedOutput: ReplayOutputGauge?, tls: NIOSSLContext? = nil, logger: Logger) {
        self.machine = ConnectionReplayer(plan: plan, options: options, connection: connection, session: nil, writesMayBlock: true)
        self.queuedOutput = queuedOutput
        self.tls = tls
        self.logger = logger
        self.reports = nil
        self.connection = connection
        self.planSession = plan.sessionID
    }

    init(replayer: ConnectionReplayer, queuedOutput: ReplayOutputGauge?, reports: ReplayReportLog?, tls: NIOSSLContext? = nil, logger: Logger) {
        self.machine = replayer
        self.queuedOutput = queuedOutput
        self.tls = tls
        self.logger = logger
        self.reports = reports
        self.connection = replayer.report.connection
        self.planSession = nil
    }

    /// Logs with this connection's metadata, built only when the level logs.
    private func log(_ level: Logger.Level, _ message: @autoclosure () -> Logger.Message) {
        guard logger.logLevel <= level else { return }
        var metadata: Logger.Metadata = ["connection": "\(connection)"]
        if let client { metadata["client"] = "\(client.cassetteName)" }
        if let followed = machine.followed {
            metadata["cassette"] = "\(followed.file)"
            metadata["session"] = "\(followed.session)"
        } else if let planSession {
            metadata["session"] = "\(planSession)"
        }
        logger.log(level: level, message(), metadata: metadata)
    }

    /// The event loop's clock: the real one on a socket, the virtual one in tests (`EmbeddedEventLoop.advanceTime`).
    private func now() -> Int64 { Int64(truncatingIfNeeded: (context?.eventLoop.now ?? .now()).uptimeNanoseconds) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelWakeup()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        client = context.channel.remoteAddress
        perform(machine.connected(at: self.now()))
        if let followed = machine.followed { log(.debug, "connection opened, following session \(followed)") }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard machine.readsClientBytes else {
            return perform(machine.clientData(nil, count: buffer.readableBytes, at: self.now()))
        }
        readBytes.removeAll(keepingCapacity: readBytes.capacity <= Self.keptBufferCapacity)
        // Through a typed pointer: one copy of the memory (appending the view goes byte by byte).
        buffer.withUnsafeReadableBytes { raw in
            raw.withMemoryRebound(to: UInt8.self) { readBytes.append(contentsOf: $0) }
        }
        perform(machine.clientData(readBytes, count: buffer.readableBytes, at: self.now()))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            log(.debug, "client closed its side (FIN)")
            inputClosed = true
            perform(machine.clientClosed(at: self.now()))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let now = self.now()
        if context.channel.isWritable {
            perform(machine.outputWritable(at: now))
        } else {
            log(.trace, "client is not reading fast enough: output paused")
            perform(machine.outputBlocked(at: now))
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let reason = TLSFailureReason.describeIfTLS(error) {
            log(.warning, "TLS with the client failed: \(reason)")
        } else {
            log(.debug, "connection error: \(error)")
        }
        perform(machine.clientReset(at: self.now()))
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelWakeup()
        // Gone without the machine deciding it: the client reset it, or the server is stopping.
        _ = machine.connectionLost(at: self.now())
        report()
        context.fireChannelInactive()
    }

    private func perform(_ actions: [ReplayAction]) {
        pending.append(contentsOf: actions)
        guard !performing else { return }
        performing = true
        inlineWakeups = Self.inlineWakeupBudget
        defer { performing = false }
        while let action = pending.popFirst() {
            guard let context else { pending.removeAll(); return }
            carryOut(action, context: context)
        }
        if machine.isFinished { cancelWakeup() }
    }

    private func carryOut(_ action: ReplayAction, context: ChannelHandlerContext) {
        switch action {
        case .send(let bytes):
            var buffer = replyBuffer.take() ?? context.channel.allocator.buffer(capacity: bytes.count)
            buffer.clear()
            buffer.writeBytes(bytes)
            if buffer.capacity <= Self.keptBufferCapacity { replyBuffer = buffer }
            wrote = true
            guard let gauge = queuedOutput else {
                // No promise: an ending waits for the writes through an empty write of its own.
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
                return
            }
            let promise = context.eventLoop.makePromise(of: Void.self)
            // Counted until the kernel has taken every byte (or the write failed).
            gauge.add(bytes.count)
            promise.futureResult.assumeIsolated().whenComplete { _ in gauge.remove(bytes.count) }
            context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
        case .halfClose:
            // NIO shuts the output down after the queued writes, unless the client has
            // half-closed: then it turns an output close into a full close that drops whatever
            // is still queued, so that close waits for the writes.
            guard inputClosed else { return context.close(mode: .output, promise: nil) }
            afterWrites { context in context.close(mode: .output, promise: nil) }
        case .reset:
            afterWrites { context in
                // SO_LINGER {1, 0}: close() then sends RST instead of FIN.
                // On the channel's own loop the option is set before this call returns.
                guard let provider = context.channel as? any SocketOptionProvider else {
                    self.log(.warning, "this channel cannot set SO_LINGER; closing with FIN instead of RST")
                    return context.close(promise: nil)
                }
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { result in
                    if case .failure(let error) = result {
                        self.log(.warning, "could not set SO_LINGER to send RST, closing with FIN instead: \(error)")
                    }
                    context.close(promise: nil)
                }
            }
        case .close:
            afterWrites { context in context.close(promise: nil) }
        case .scheduleWakeup(let at):
            cancelWakeup()
            // Due at once: the machine asked so that a write could report a full buffer first,
            // and writability changes arrive synchronously from inside the write, so the wakeup
            // can run right here, behind the actions already queued, without a timer.
            let now = self.now()
            if at <= now, inlineWakeups > 0 {
                inlineWakeups -= 1
                pending.append(contentsOf: machine.timerFired(at: now))
                return
            }
            let deadline = NIODeadline.uptimeNanoseconds(UInt64(max(0, at)))
            wakeup = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
                self.wakeup = nil
                self.perform(self.machine.timerFired(at: self.now()))
            }
        case .cancelWakeup:
            cancelWakeup()
        case .startTLS:
            startTLS(context)
        case .hold(let until):
            if let until {
                let seconds = Double(max(0, until - self.now())) / 1e9
                log(.debug, "recording exhausted, server silent: holding the connection for \(seconds)s")
            } else {
                log(.debug, "recording exhausted, server silent: holding the connection until the client closes")
            }
        case .note(let note):
            let level: Logger.Level = note.level == .debug ? .debug : note.level == .info ? .info : .warning
            log(level, "\(note.message)")
        case .warnGapSkipped(let bytes):
            log(.warning, "the recording lost \(bytes) server bytes here (a capture gap); they cannot be replayed and are skipped")
        }
    }

    /// Puts TLS in front of this connection. The writes before (the STARTTLS reply) are already
    /// below the pipeline and leave in plaintext; the client's handshake, which it sends only
    /// once it has read that reply, meets the TLS handler.
    private func startTLS(_ context: ChannelHandlerContext) {
        guard let tls else {
            // `replay` refuses to start without a certificate for such sessions; a library
            // user who gave none gets the connection closed, said once.
            log(.error, "this session was recorded over TLS and the replay has no certificate (give --tls-cert and --tls-key); closing")
            pending.removeAll()
            return context.close(promise: nil)
        }
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
            log(.debug, "TLS started with the client")
        } catch {
            log(.error, "could not start TLS: \(error); closing")
            context.close(promise: nil)
        }
    }

    /// Runs `body` once every write so far has completed (or failed): writes complete in order,
    /// so an empty write's promise completes after every write before it. At once when nothing
    /// is queued (the usual case: the kernel took every reply as it was written).
    private func afterWrites(_ body: @escaping (ChannelHandlerContext) -> Void) {
        guard let context else { return }
        guard wrote, Self.hasQueuedOutput(context.channel) else { return body(context) }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in
            guard let context = self.context else { return }
            body(context)
        }
    }

    /// Whether the channel holds bytes the kernel has not taken yet (true when it cannot say).
    private static func hasQueuedOutput(_ channel: any Channel) -> Bool {
        guard let options = channel.syncOptions, let queued = try? options.getOption(.bufferedWritableBytes) else { return true }
        return queued > 0
    }

    private func cancelWakeup() {
        wakeup?.cancel()
        wakeup = nil
    }

    /// The one summary line per connection, and its entry in the report.
    private func report() {
        guard !reported else { return }
        reported = true
        // The client's name and the outcome's words only for a report that keeps them or the
        // summary line: formatting an address costs more than the rest of the report.
        let keeps = reports?.keepsConnections == true
        let logs = logger.logLevel <= .info
        let entry = machine.finishReport(client: keeps ? client?.cassetteName : nil, describing: keeps || logs)
        reports?.add(entry)
        guard logs else { return }
        let plan = machine.machine.plan
        var line: String
        // The connection, the client and the session followed are the line's metadata: the
        // text says only what happened.
        if machine.readsClientBytes {
            line = "\(entry.messages) client message\(entry.messages == 1 ? "" : "s"), \(entry.matched) matched"
            if entry.synthesized > 0 { line += ", \(entry.synthesized) synthesized" }
            if entry.mismatches > 0 { line += ", \(entry.mismatches) mismatched" }
            line += "; sent \(machine.machine.bytesSent) server bytes, received \(machine.machine.bytesReceived) client bytes"
        } else {
            line = "sent \(machine.machine.bytesSent) of \(plan.recordedServerBytes) server bytes"
            line += ", received \(machine.machine.bytesReceived) client bytes (recorded \(plan.recordedClientBytes))"
        }
        if machine.machine.bytesSkipped > 0 { line += ", skipped \(machine.machine.bytesSkipped) lost bytes" }
        line += "; \(entry.outcome ?? "connection lost")"
        log(.info, "\(line)")
    }
}
