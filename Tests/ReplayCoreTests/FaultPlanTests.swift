import Testing
@testable import ReplayCore

private func send(_ text: String, delay: Int64 = 10) -> ReplayPlan.Step {
    ReplayPlan.Step(action: .send(Array(text.utf8)), clientBytes: 0, afterClientClose: false, delay: delay, offset: 0)
}

private func texts(_ pieces: [ReplayPlan.Step]) -> [String] {
    pieces.map { piece in
        switch piece.action {
        case .send(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .halfClose: return "<FIN>"
        case .reset: return "<RST>"
        default: return "?"
        }
    }
}

private func plan(_ rules: [String], connection: Int = 1, seed: UInt64 = 7, chaos: FaultChaos? = nil) throws -> FaultPlan {
    var plan = FaultPlan(rules: try rules.map { try FaultRule($0) }, connection: connection, seed: seed, chaos: chaos)
    plan.started(proto: .smtp, exchanges: 6)
    return plan
}

@Suite("Fault rules and plans")
struct FaultPlanTests {
    @Test func rulesParseAndErrorsNameTheWord() throws {
        let rule = try FaultRule("match=^RCPT nth=2 reply=450 4.2.0 Mailbox busy")
        #expect(rule.nth == 2)
        #expect(rule.action == .reply("450 4.2.0 Mailbox busy"))
        #expect(try FaultRule("conn=1-2 reset").connections == 1...2)
        #expect(try FaultRule("every=3 delay=5s").action == .delay(5_000_000_000))
        #expect(try FaultRule("slow=1000").action == .slow(1000))
        for (text, word) in [("conn=0 reset", "conn=0"), ("delay=5 ", "delay=5"), ("match=^RCPT", ""), ("reset close", "close"),
                             ("bogus", "bogus"), ("nth=2 reset", "nth=2"), ("match=( reset", "match=("), ("match=^A refuse", "refuse")] {
            #expect(throws: FaultRuleError.self, "\(text)") { try FaultRule(text) }
            do { _ = try FaultRule(text) } catch { #expect(error.word == word, "\(text): \(error)"); #expect(error.description.contains("--fault \"\(text)\"")) }
        }
    }

    @Test func connectionSelectors() throws {
        let first = try FaultRule("conn=1-2 reset"), third = try FaultRule("every=3 stall")
        #expect((1...7).filter(first.selects) == [1, 2])
        #expect((1...7).filter(third.selects) == [3, 6])
    }

    @Test func aRuleWithoutMatchFiresOnceAtTheFirstServerMessage() throws {
        var faults = try plan(["conn=1 reset"])
        let opening = faults.apply(at: 0, message: nil, to: [send("220 mx\r\n")])
        #expect(texts(opening.pieces) == ["<RST>"])
        #expect(opening.stopsAnswering)
        #expect(opening.firings.first?.logLine == "fault: connection 1: reset before the first server message (reproduce: --fault \"conn=1 reset\")")
        var other = try plan(["conn=1 reset"], connection: 2)
        #expect(!other.isActive)
        #expect(texts(other.apply(at: 0, message: nil, to: [send("220 mx\r\n")]).pieces) == ["220 mx\r\n"])
    }

    @Test func nthReplyAndRulesAtOnePointApplyInOrder() throws {
        var faults = try plan(["match=^RCPT nth=2 reply=450 4.2.0 Mailbox busy"])
        #expect(texts(faults.apply(at: 3, message: Array("RCPT TO:<a@b>\r\n".utf8), to: [send("250 Ok\r\n")]).pieces) == ["250 Ok\r\n"])
        let second = faults.apply(at: 4, message: Array("RCPT TO:<c@d>\r\n".utf8), to: [send("250 Ok\r\n")])
        #expect(texts(second.pieces) == ["450 4.2.0 Mailbox busy\r\n"])
        #expect(!second.stopsAnswering)
        #expect(second.firings.first?.reproduce == "conn=1 match=^RCPT nth=2 reply=450 4.2.0 Mailbox busy")

        var quit = try plan(["match=^RCPT reply=421 4.3.2 Closing", "match=^RCPT close"])
        let both = quit.apply(at: 3, message: Array("RCPT TO:<a@b>\r\n".utf8), to: [send("250 Ok\r\n")])
        #expect(texts(both.pieces) == ["421 4.3.2 Closing\r\n", "<FIN>"])
        #expect(both.stopsAnswering)
    }

    @Test func stallDropTruncateDelay() throws {
        var stall = try plan(["match=^DATA stall"])
        let stalled = stall.apply(at: 4, message: Array("DATA\r\n".utf8), to: [send("354 go\r\n")])
        #expect(stalled.pieces.isEmpty && stalled.stopsAnswering)

        var drop = try plan(["match=^EHLO drop"])
        #expect(texts(drop.apply(at: 1, message: Array("EHLO x\r\n".utf8), to: [send("250-a\r\n"), send("250 b\r\n")]).pieces) == ["250 b\r\n"])

        var truncate = try plan(["match=^EHLO truncate"])
        let cut = truncate.apply(at: 1, message: Array("EHLO x\r\n".utf8), to: [send("250 abcdef\r\n"), send("more")])
        #expect(texts(cut.pieces) == ["250 ab"]) // half of 12 bytes
        #expect(cut.stopsAnswering)

        var delay = try plan(["every=3 delay=5s"], connection: 3)
        let held = delay.apply(at: 0, message: nil, to: [send("220 mx\r\n", delay: 700)])
        #expect(held.pieces.first?.delay == 700)
        #expect(held.pieces.first?.faultDelay == 5_000_000_000)
        #expect(held.firings.first?.reproduce == "conn=3 delay=5s")
    }

    @Test func sliceSlowAndAfter() throws {
        var slice = try plan(["slice=3"])
        #expect(texts(slice.apply(at: 0, message: nil, to: [send("220 mx\r\n")]).pieces) == ["220", " mx", "\r\n"])
        var slow = try plan(["slow=100"])
        let paced = slow.apply(at: 0, message: nil, to: [send(String(repeating: "x", count: 12))]).pieces
        #expect(paced.count == 3) // writes of 5 bytes: a twentieth of a second at 100 B/s
        #expect(paced.map(\.faultDelay) == [50_000_000, 50_000_000, 20_000_000])
        var after = try plan(["after=10 reset"])
        #expect(texts(after.apply(at: 0, message: nil, to: [send("220 mx\r\n")]).pieces) == ["220 mx\r\n"])
        #expect(texts(after.apply(at: 1, message: Array("EHLO x\r\n".utf8), to: [send("250 abcdef\r\n")]).pieces) == ["25", "<RST>"]) // 8 + 2 bytes
    }

    @Test func chaosIsTheSameForTheSameSeedAndConnection() throws {
        let chaos = try FaultChaos(probability: 0.5)
        func run(seed: UInt64) -> [[String]] {
            (1...16).map { connection in
                var faults = FaultPlan(rules: [], connection: connection, seed: seed, chaos: chaos)
                faults.started(proto: .smtp, exchanges: 6)
                return (0..<6).flatMap { step in faults.apply(at: step, message: step == 0 ? nil : Array("CMD\(step) x\r\n".utf8), to: [send("250 Ok\r\n")]).firings.map(\.logLine) }
            }
        }
        let first = run(seed: 42)
        #expect(first == run(seed: 42))
        #expect(first != run(seed: 43))
        let faulty = first.filter { !$0.isEmpty }.count
        #expect(faulty >= 3 && faulty <= 13, "about half of 16 connections: \(faulty)")
        #expect(throws: FaultRuleError.self) { try FaultChaos(probability: 0.5, faults: ["explode"]) }
        let narrowed = try FaultChaos(probability: 1, faults: ["reset"])
        var only = FaultPlan(rules: [], connection: 1, seed: 1, chaos: narrowed)
        only.started(proto: .smtp, exchanges: 1)
        #expect(only.apply(at: 0, message: nil, to: [send("220\r\n")]).firings.map(\.action) == [.reset])
    }

    @Test func refuseResetsAtAccept() throws {
        var faults = try plan(["conn=2 refuse"], connection: 2)
        #expect(faults.refusal()?.reproduce == "conn=2 refuse")
        var other = try plan(["conn=2 refuse"], connection: 1)
        #expect(other.refusal() == nil)
    }
}

@Suite("Timed faults on a replayed connection")
struct FaultTimedReplayTests {
    @Test func atTwoSecondsResetsAHeldConnection() throws {
        let session = ScriptedSession.lines([("EHLO x\r\n", "250 mx\r\n")], proto: .smtp)
        let set = ConversationSet(cassettes: [("t.cassette", [session])])
        let settings = FaultSettings(rules: [try FaultRule("at=2s reset")], chaos: nil, seed: 1)
        var replayer = ConnectionReplayer(set: set, mode: .similar, policy: .error, options: ReplayOptions(), connection: 1,
                                          writesMayBlock: false, faults: settings.plan(connection: 1))
        let start: Int64 = 1_000_000_000
        let opened = replayer.connected(at: start)
        // The banner is due at 100 ms; the fault's time is kept as well.
        #expect(opened.contains(.scheduleWakeup(at: start + 100_000_000)))
        var now = start + 100_000_000
        var actions = replayer.timerFired(at: now)
        #expect(actions.contains(.send(utf8("220 mx ESMTP\r\n"))))
        actions = replayer.clientData(utf8("EHLO other\r\n"), count: 12, at: now + 1_000_000)
        now += 1_000_000
        var wakeups = actions.compactMap { if case .scheduleWakeup(let at) = $0 { return at } else { return nil } }
        #expect(wakeups.allSatisfy { $0 <= start + 2_000_000_000 })
        now += 10_000_000
        actions = replayer.timerFired(at: now)
        #expect(actions.contains(.send(utf8("250 mx\r\n"))))
        // Wakeups the machine asks for itself (due at once, to see writes through) come first;
        // once it holds the silent connection, the only wakeup left is the fault's.
        for _ in 0..<5 {
            wakeups = actions.compactMap { if case .scheduleWakeup(let at) = $0 { return at } else { return nil } }
            guard let next = wakeups.last, next < start + 2_000_000_000 else { break }
            actions = replayer.timerFired(at: max(now, next))
        }
        #expect(wakeups.last == start + 2_000_000_000, "\(actions)")
        let fired = replayer.timerFired(at: start + 2_000_000_000)
        #expect(fired.contains(.reset), "\(fired)")
        #expect(fired.contains { if case .note(let note) = $0 { return note.message.contains("reset at 2s into the connection (reproduce: --fault \"conn=1 at=2s reset\")") } else { return false } })
        #expect(throws: FaultRuleError.self) { try FaultRule("at=2s reply=421 bye") }
        #expect(throws: FaultRuleError.self) { try FaultRule("at=2s match=^A reset") }
    }
}

@Suite("Faults on live traffic (the proxy's plan)")
struct LiveFaultPlanTests {
    /// An SMTP conversation as the proxy sees it; the firings, in order.
    func drive(_ plan: inout LiveFaultPlan) -> [String] {
        let steps: [(String?, String)] = [(nil, "220 mx ESMTP\r\n"), ("EHLO x\r\n", "250 mx\r\n"), ("MAIL FROM:<a@b>\r\n", "250 Ok\r\n"),
                                          ("RCPT TO:<c@d>\r\n", "250 Ok\r\n"), ("RCPT TO:<e@f>\r\n", "250 Ok\r\n"), ("QUIT\r\n", "221 Bye\r\n")]
        var fired: [String] = []
        for (client, server) in steps {
            if let client { plan.clientBytes(utf8(client)) }
            if let firing = plan.serverBytes(utf8(server)) { fired.append(firing.logLine) }
        }
        return fired
    }

    @Test func aMatchingClientMessageArmsTheRuleForTheServersReply() throws {
        var plan = LiveFaultPlan(rules: [try FaultRule("match=^RCPT nth=2 reset")], connection: 4, seed: 1, serverPort: 25)
        #expect(drive(&plan) == ["fault: connection 4: reset after \"RCPT TO:<e@f>\" (reproduce: --fault \"conn=4 match=^RCPT nth=2 reset\")"])
        var opening = LiveFaultPlan(rules: [try FaultRule("conn=4 close")], connection: 4, seed: 1, serverPort: 25)
        #expect(drive(&opening).first?.contains("close before the first server message") == true)
        #expect(throws: FaultRuleError.self) { try FaultRule("match=^RCPT slow=100").checkForRecord() }
    }

    @Test func dirC2SFiresOnTheClientsMessageAndRefuseAtAccept() throws {
        var plan = LiveFaultPlan(rules: [try FaultRule("match=^RCPT dir=c2s reply=550 5.7.1 Not here")], connection: 2, seed: 1, serverPort: 25)
        #expect(plan.refusal() == nil)
        #expect(plan.serverBytes(utf8("220 mx\r\n")) == nil)
        #expect(plan.clientBytes(utf8("EHLO x\r\n")) == nil)
        #expect(plan.serverBytes(utf8("250 mx\r\n")) == nil)
        let firing = plan.clientBytes(utf8("RCPT TO:<a@b>\r\n"))
        #expect(firing?.action == .reply("550 5.7.1 Not here"))
        #expect(firing?.logLine.contains("on \"RCPT TO:<a@b>\" from the client") == true)
        #expect(throws: FaultRuleError.self) { try FaultRule("dir=c2s reset") }
        var refuse = LiveFaultPlan(rules: [try FaultRule("conn=1 refuse")], connection: 1, seed: 1, serverPort: 25)
        #expect(refuse.refusal()?.reproduce == "conn=1 refuse")
        #expect(refuse.serverBytes(utf8("220 mx\r\n")) == nil)
    }

    @Test func chaosOnLiveTrafficIsSeeded() throws {
        let chaos = try FaultChaos(probability: 0.5, faults: LiveFaultPlan.chaosCatalogue)
        func run(_ seed: UInt64) -> [[String]] {
            (1...20).map { connection in
                var plan = LiveFaultPlan(rules: [], connection: connection, seed: seed, serverPort: 25, chaos: chaos)
                return drive(&plan)
            }
        }
        let first = run(9)
        #expect(first == run(9))
        #expect(first != run(10))
        #expect(first.filter { !$0.isEmpty }.count >= 3, "\(first)")
        #expect(first.joined().allSatisfy { $0.contains("(reproduce: --fault \"conn=") })
    }
}
