import NIOCore
import Testing
@testable import ReplayCore

/// The routing decision of transparent mode, without sockets.
@Suite("Transparent routing")
struct TransparentRoutingTests {
    typealias Endpoint = TransparentRouting.Endpoint

    static func address(_ host: String, _ port: Int) -> SocketAddress {
        // The tests' own literals, parsed without resolving anything.
        try! SocketAddress(ipAddress: host, port: port)
    }

    let client = address("10.0.0.1", 40000)
    let local = address("127.0.0.1", 15001)
    let listener = address("127.0.0.1", 15001)
    let server = address("10.0.0.2", 80)

    func decide(_ routing: TransparentRouting = TransparentRouting(), original: SocketAddress?, client: SocketAddress? = nil,
                own: Set<Endpoint> = []) -> TransparentRouting.Decision {
        routing.decide(original: original, lookupFailure: original == nil ? "no NAT entry for it" : nil, client: client ?? self.client,
                       local: local, listener: listener, ownUpstreams: own)
    }

    @Test("a redirected connection goes to its original destination")
    func connectsToOriginal() {
        #expect(decide(original: server) == .connect(server))
    }

    @Test("no original destination: refused, saying it was probably not redirected")
    func noOriginal() {
        let decision = decide(original: nil)
        #expect(decision == .refuse(.noOriginalDestination(client: "10.0.0.1:40000", reason: "no NAT entry for it")))
        guard case .refuse(let refusal) = decision else { return }
        #expect(refusal.description.contains("was it redirected by an iptables or nft REDIRECT rule?"))
    }

    @Test("the original destination is the accepted socket's own address: not redirected, refused as a loop")
    func originalIsLocal() {
        #expect(decide(original: local) == .refuse(.toListener(client: "10.0.0.1:40000", destination: "127.0.0.1:15001")))
    }

    @Test("another loopback address on the listener's port reaches a loopback or wildcard listener: refused")
    func loopbackAliasOfListener() {
        let alias = Self.address("127.0.0.2", 15001)
        #expect(decide(original: alias) == .refuse(.toListener(client: "10.0.0.1:40000", destination: "127.0.0.2:15001")))
        let wildcard = TransparentRouting().decide(original: Self.address("::1", 15001), client: client, local: local,
                                                   listener: Self.address("::", 15001), ownUpstreams: [])
        #expect(wildcard == .refuse(.toListener(client: "10.0.0.1:40000", destination: "[::1]:15001")))
        // The same port elsewhere is someone else's server.
        #expect(decide(original: Self.address("10.0.0.2", 15001)) == .connect(Self.address("10.0.0.2", 15001)))
    }

    @Test("a connection from one of our own upstream sockets is refused, even before its destination is looked at")
    func ownUpstream() {
        let own: Set<Endpoint> = [Endpoint(host: "10.0.0.1", port: 40000)]
        let decision = decide(original: server, own: own)
        #expect(decision == .refuse(.ownUpstream(client: "10.0.0.1:40000")))
        guard case .refuse(let refusal) = decision else { return }
        #expect(refusal.description.contains("-m mark ! --mark N"))
        // Another source port is another client.
        #expect(decide(original: server, client: Self.address("10.0.0.1", 40001), own: own) == .connect(server))
    }

    @Test("an IPv4-mapped source matches our IPv4 upstream socket")
    func mappedSource() {
        let own: Set<Endpoint> = [Endpoint(host: "10.0.0.1", port: 40000)]
        #expect(decide(original: server, client: Self.address("::ffff:10.0.0.1", 40000), own: own) == .refuse(.ownUpstream(client: "10.0.0.1:40000")))
        #expect(Endpoint(host: "::FFFF:10.0.0.1", port: 1) == Endpoint(host: "10.0.0.1", port: 1))
        #expect(Endpoint(host: "::ffff:a00:1", port: 1).host == "::ffff:a00:1")
    }

    @Test("the allow-list lets its destinations through and refuses others, naming them")
    func allowList() {
        let routing = TransparentRouting(allowed: [Endpoint(host: "10.0.0.2", port: 80), Endpoint(host: "fd00::2", port: 25)])
        #expect(decide(routing, original: server) == .connect(server))
        #expect(decide(routing, original: Self.address("fd00::2", 25)) == .connect(Self.address("fd00::2", 25)))
        let other = decide(routing, original: Self.address("10.0.0.2", 81))
        #expect(other == .refuse(.notAllowed(client: "10.0.0.1:40000", destination: "10.0.0.2:81", allowed: ["10.0.0.2:80", "[fd00::2]:25"])))
        guard case .refuse(let refusal) = other else { return }
        #expect(refusal.description == "refused 10.0.0.1:40000: its original destination 10.0.0.2:81 is not among --upstream 10.0.0.2:80, [fd00::2]:25")
    }

    @Test("a loop is refused as a loop even when the listener is on the allow-list")
    func loopBeforeAllowList() {
        let routing = TransparentRouting(allowed: [Endpoint(host: "127.0.0.1", port: 15001)])
        #expect(decide(routing, original: local) == .refuse(.toListener(client: "10.0.0.1:40000", destination: "127.0.0.1:15001")))
    }
}
