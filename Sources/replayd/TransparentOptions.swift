import ArgumentParser
import ReplayCore

/// `--transparent` and `--mark` of `record`: connections redirected to the listener by an
/// iptables or nftables REDIRECT rule go to their original destination (see docs/transparent.md).
struct TransparentOptions: ParsableArguments {
    @Flag(name: .long, help: "Transparent interception (Linux): forward each connection redirected to --listen by an iptables/nft REDIRECT rule to its original destination (SO_ORIGINAL_DST), recorded as its session's server. --upstream is then optional and, repeated, the destinations allowed. See docs/transparent.md.")
    var transparent = false

    @Option(name: .long, help: ArgumentHelp("With --transparent: set this SO_MARK on replayd's upstream sockets, so that a REDIRECT rule with -m mark ! --mark N leaves them alone (needs CAP_NET_ADMIN).", valueName: "N"))
    var mark: UInt32?

    /// The checks that need no network; `upstreams` are the `--upstream` values.
    func validate(upstreams: [String]) throws {
        if transparent {
            #if !os(Linux)
            throw ValidationError("--transparent reads the original destination from Linux netfilter (SO_ORIGINAL_DST); it works on Linux only")
            #endif
            for text in upstreams {
                do {
                    _ = try HostPort(parsing: text)
                } catch {
                    throw ValidationError("--upstream \(text): \(error)")
                }
            }
        } else {
            if mark != nil { throw ValidationError("--mark marks the upstream sockets of --transparent; add --transparent or leave --mark out") }
            if upstreams.count != 1 {
                throw ValidationError(upstreams.isEmpty
                    ? "missing --upstream HOST:PORT (or --transparent, to forward each connection to its original destination)"
                    : "--upstream is given \(upstreams.count) times; more than one is for --transparent, where they are the destinations allowed")
            }
        }
    }

    /// The routing of `--transparent`, its allow-list resolved now (getaddrinfo blocks: before
    /// serving), and the mark checked, so that a missing permission fails the start.
    func routing(upstreams: [String]) throws -> TransparentRouting {
        var allowed: [TransparentRouting.Endpoint] = []
        for text in upstreams {
            let endpoint = try HostPort(parsing: text)
            do {
                guard let address = TransparentRouting.Endpoint(try endpoint.resolve()) else { continue }
                allowed.append(address)
            } catch {
                guard case .cannotResolve(let name, let reason) = error else { throw error }
                throw CommandError("cannot resolve upstream \(name): \(reason)", status: .peerUnreachable)
            }
        }
        if let mark {
            do {
                try UpstreamSockets.checkMark(mark)
            } catch {
                throw CommandError("\(error)", status: .ioError)
            }
        }
        return TransparentRouting(allowed: allowed)
    }

    /// What the cassette header says of the upstream in transparent mode.
    static func headerLabel(upstreams: [String]) -> String {
        upstreams.isEmpty ? "transparent" : "transparent: " + upstreams.joined(separator: ", ")
    }
}
