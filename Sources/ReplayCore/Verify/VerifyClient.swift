import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Plays verified sessions against a live server, one connection per session, one after
/// another (a policy check must not depend on which session the server saw first).
public struct VerifyClient: Sendable {
    public let target: SocketAddress
    /// The target as the user wrote it, for messages.
    public let targetName: String
    public let options: VerifyOptions
    public let masks: MaskSet
    /// TLS towards the target, for sessions recorded over TLS or `--tls`.
    public let tls: NIOSSLContext?
    /// The name sent as SNI and checked in the target's certificate (nil: an IP address).
    public let serverName: String?
    private let group: any EventLoopGroup

    public init(target: SocketAddress, targetName: String, options: VerifyOptions, masks: MaskSet = .none,
                tls: NIOSSLContext? = nil, serverName: String? = nil,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.tls = tls
        self.serverName = serverName
        self.target = target
        self.targetName = targetName
        self.options = options
        self.masks = masks
        self.group = group
    }

    /// Connects, plays `script` and returns the verdict. A target that cannot be reached is a
    /// `VerifyConnectError` naming it.
    public func run(_ script: VerifyScript, logger: Logger) async throws -> SessionVerdict {
        var logger = logger
        logger[metadataKey: "session"] = "\(script.ref)"
        logger[metadataKey: "target"] = "\(targetName)"
        let loop = group.next()
        let verdict = loop.makePromise(of: SessionVerdict.self)
        let machine = VerifyMachine(script: script, options: options, masks: masks)
        let handlerLogger = logger
        let tls = self.tls, serverName = self.serverName
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(options.replyTimeout))
            // The server's FIN must reach the machine as an event, not close the channel.
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(VerifyHandler(machine: machine, verdict: verdict, tls: tls, serverName: serverName, logger: handlerLogger))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(to: target).get()
        } catch {
            verdict.fail(error)
            throw VerifyConnectError(target: targetName, reason: VerifyConnectError.reason(error))
        }
        do {
            let result = try await verdict.futureResult.get()
            logger.info("\(result.matched ? "ok" : "different")")
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }
}

/// The target did not accept the connection.
public struct VerifyConnectError: Error, Equatable, CustomStringConvertible {
    public var target: String
    public var reason: String

    public var description: String { "cannot reach \(target): \(reason)" }

    /// `error` in a user's words: "connection refused", "no answer within 10 s".
    static func reason(_ error: any Error) -> String {
        if let channelError = error as? ChannelError, case .connectTimeout(let amount) = channelError {
            return "no answer within \(VerifyMachine.seconds(amount.nanoseconds)) s"
        }
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
            return reason(first.error)
        }
        return SocketErrorText.describe(error)
    }
}
