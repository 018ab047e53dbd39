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
        #expect(throws: FaultRuleError.self) { try FaultRule("at=2s refuse") }
        #expect(throws: FaultRuleError.self) { try FaultRule("at=2s match=^A reset") }
    }

    func replayer(_ rule: String) throws -> ConnectionReplayer {
        let session = ScriptedSession.lines([("EHLO x\r\n", "250 mx\r\n")], proto: .smtp)
        let set = ConversationSet(cassettes: [("t.cassette", [session])])
        let settings = FaultSettings(rules: [try FaultRule(rule)], chaos: nil, seed: 1)
        return ConnectionReplayer(set: set, mode: .similar, policy: .error, options: ReplayOptions(), connection: 1,
                                  writesMayBlock: false, faults: settings.plan(connection: 1))
    }

    @Test func atAStallSilencesWhatWasStillToCome() throws {
        var replayer = try replayer("at=50ms stall")
        let start: Int64 = 1_000_000_000
        _ = replayer.connected(at: start)
        let stalled = replayer.timerFired(at: start + 50_000_000)
        #expect(stalled.contains { if case .note(let note) = $0 { return note.message.contains("stall at 50ms into the connection") } else { return false } })
        // The banner was due at 100 ms: it never goes, nor any reply.
        var sent = replayer.timerFired(at: start + 200_000_000)
        sent += replayer.clientData(utf8("EHLO y\r\n"), count: 8, at: start + 300_000_000)
        sent += replayer.timerFired(at: start + 400_000_000)
        #expect(!sent.contains { if case .send = $0 { return true } else { return false } }, "\(sent)")
        #expect(!replayer.isFinished, "held open")
    }

    @Test func atWithAReplyChangesTheNextReplyWorkedOut() throws {
        var replayer = try replayer("at=50ms reply=554 5.3.2 Busy")
        let start: Int64 = 1_000_000_000
        _ = replayer.connected(at: start)
        #expect(replayer.timerFired(at: start + 50_000_000).allSatisfy { if case .note = $0 { return false } else { return true } },
                "armed, not reported yet")
        // The banner was already on its way: it goes as recorded; the EHLO's reply is the fault's.
        #expect(replayer.timerFired(at: start + 100_000_000).contains(.send(utf8("220 mx ESMTP\r\n"))))
        var actions = replayer.clientData(utf8("EHLO y\r\n"), count: 8, at: start + 200_000_000)
        actions += replayer.timerFired(at: start + 400_000_000)
        #expect(actions.contains(.send(utf8("554 5.3.2 Busy\r\n"))), "\(actions)")
        #expect(actions.contains { if case .note(let note) = $0 { return note.message.contains("at 50ms into the connection (reproduce: --fault \"conn=1 at=50ms reply=554 5.3.2 Busy\")") } else { return false } })
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
            if let decision = plan.serverBytes(utf8(server)) { fired += decision.firings.map(\.logLine) }
        }
        return fired
    }

    @Test func aMatchingClientMessageArmsTheRuleForTheServersReply() throws {
        var plan = LiveFaultPlan(rules: [try FaultRule("match=^RCPT nth=2 reset")], connection: 4, seed: 1, serverPort: 25)
        #expect(drive(&plan) == ["fault: connection 4: reset after \"RCPT TO:<e@f>\" (reproduce: --fault \"conn=4 match=^RCPT nth=2 reset\")"])
        var opening = LiveFaultPlan(rules: [try FaultRule("conn=4 close")], connection: 4, seed: 1, serverPort: 25)
        #expect(drive(&opening).first?.contains("close before the first server message") == true)
        #expect(throws: FaultRuleError.self) { try FaultRule("match=^RCPT dir=c2s slow=100").checkForRecord() }
        #expect(throws: FaultRuleError.self) { try FaultRule("match=^RCPT after=10 reset") }
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
        let chaos = try FaultChaos(probability: 0.5, faults: FaultChaos.catalogue)
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

@Suite("Faults on live traffic: what becomes of the server's bytes")
struct LiveFaultStepTests {
    /// An SMTP plan driven to the reply to its RCPT; the decision there.
    func atRCPT(_ rules: [String], reply: String = "250 2.1.5 Ok\r\n") throws -> LiveFaultPlan.Decision? {
        var plan = LiveFaultPlan(rules: try rules.map { try FaultRule($0) }, connection: 1, seed: 1, serverPort: 25)
        #expect(plan.serverBytes(utf8("220 mx ESMTP\r\n")) == nil)
        plan.clientBytes(utf8("EHLO x\r\n"))
        #expect(plan.serverBytes(utf8("250 mx\r\n")) == nil)
        plan.clientBytes(utf8("RCPT TO:<a@b>\r\n"))
        return plan.serverBytes(utf8(reply))
    }

    @Test func delayHoldsTheReplyAndTruncateSendsHalfThenStalls() throws {
        let delayed = try #require(try atRCPT(["match=^RCPT delay=2s"]))
        #expect(delayed.steps.last == .forward(utf8("250 2.1.5 Ok\r\n"), delay: 2_000_000_000))
        #expect(delayed.firings.map(\.reproduce) == ["conn=1 match=^RCPT delay=2s"])
        let truncated = try #require(try atRCPT(["match=^RCPT truncate"], reply: "250 2.1.5 Ok\r\n"))
        #expect(Array(truncated.steps.dropFirst()) == [.forward(utf8("250 2.1"), delay: 0), .stall])
        guard case .mark(let fault) = truncated.steps.first else { Issue.record("no mark"); return }
        #expect(fault.detail?.contains("7 bytes forwarded") == true)
        #expect(fault.detail?.contains(".5 Ok") == true, "the rest goes into the fault's record")
    }

    @Test func rulesAtOnePointApplyInOrder() throws {
        // smtp-sink's -Q: the 421, then the close.
        let decision = try #require(try atRCPT(["match=^RCPT reply=421 4.3.2 Closing", "match=^RCPT close"]))
        #expect(decision.firings.count == 2)
        #expect(decision.steps.count == 3)
        #expect(decision.steps[1] == .answer(utf8("421 4.3.2 Closing\r\n"), delay: 0))
        guard case .end(let fault, let reset) = decision.steps[2] else { Issue.record("no end"); return }
        #expect(!reset && fault.action == "close" && fault.detail == nil, "the recorded reply was replaced, not cut off")
        // A delay before a reply holds the reply.
        let held = try #require(try atRCPT(["match=^RCPT delay=1s", "match=^RCPT reply=450 busy"]))
        #expect(held.steps.last == .answer(utf8("450 busy\r\n"), delay: 1_000_000_000))
    }

    @Test func slowAndSliceShapeFromTheirPointOn() throws {
        let slow = try #require(try atRCPT(["match=^RCPT slow=100"]))
        #expect(slow.steps.contains(.shape(rate: 100, slice: nil)))
        #expect(slow.steps.last == .forward(utf8("250 2.1.5 Ok\r\n"), delay: 0))
        let slice = try #require(try atRCPT(["match=^RCPT slice=3"]))
        #expect(slice.steps.contains(.shape(rate: nil, slice: 3)))
    }

    @Test func afterCutsTheServersBytesWhereTheCountFalls() throws {
        var plan = LiveFaultPlan(rules: [try FaultRule("after=20 reset")], connection: 1, seed: 1, serverPort: 25)
        #expect(plan.serverBytes(utf8("220 mx.example ESMTP\r\n"))?.steps.first == .forward(utf8("220 mx.example ESMTP"), delay: 0))
        var exact = LiveFaultPlan(rules: [try FaultRule("after=4 reset")], connection: 1, seed: 1, serverPort: 25)
        let exactDecision = exact.serverBytes(utf8("220 mx\r\n"))
        let decision = try #require(exactDecision)
        #expect(decision.steps.first == .forward(utf8("220 "), delay: 0))
        guard case .end(let fault, true) = decision.steps.last else { Issue.record("no reset"); return }
        #expect(fault.detail?.contains("4 bytes read and not forwarded: mx") == true)
        #expect(decision.firings.first?.point == "after 4 server bytes")
        // At a read's end the count waits for the next read.
        var boundary = LiveFaultPlan(rules: [try FaultRule("after=8 close")], connection: 1, seed: 1, serverPort: 25)
        #expect(boundary.serverBytes(utf8("220 mx\r\n")) == nil)
        boundary.clientBytes(utf8("QUIT\r\n"))
        let nextDecision = boundary.serverBytes(utf8("221 Bye\r\n"))
        let next = try #require(nextDecision)
        #expect(next.steps.count == 1)
    }

    @Test func atRulesAreTimersThePlanFiresOnce() throws {
        var plan = LiveFaultPlan(rules: [try FaultRule("conn=1 at=250ms close"), try FaultRule("conn=2 at=1s reset")], connection: 1, seed: 1, serverPort: 25)
        #expect(plan.timedRules.map(\.at) == [250_000_000])
        let index = try #require(plan.timedRules.first?.rule)
        #expect(plan.fireTimed(index)?.logLine == "fault: connection 1: close at 250ms into the connection (reproduce: --fault \"conn=1 at=250ms close\")")
        #expect(plan.fireTimed(index) == nil)
        #expect(plan.serverBytes(utf8("220 mx\r\n")) == nil, "an at= rule does not fire at the opening")
    }

    @Test func atArmsAShapingFaultForTheServersNextBytes() throws {
        var plan = LiveFaultPlan(rules: [try FaultRule("at=1s delay=2s")], connection: 1, seed: 1, serverPort: 25)
        #expect(plan.serverBytes(utf8("220 mx\r\n")) == nil)
        let index = try #require(plan.timedRules.first?.rule)
        #expect(plan.fireTimed(index)?.action == .delay(2_000_000_000))
        plan.clientBytes(utf8("EHLO x\r\n"))
        let decision = plan.serverBytes(utf8("250 mx\r\n"))
        #expect(decision?.steps.last == .forward(utf8("250 mx\r\n"), delay: 2_000_000_000))
        #expect(decision?.firings.first?.point == "at 1s into the connection")
    }

    @Test func chaosOnLiveTrafficDrawsFromTheWholeCatalogue() throws {
        let chaos = try FaultChaos(probability: 1, faults: [])
        var names: Set<String> = []
        for connection in 1...200 {
            var plan = LiveFaultPlan(rules: [], connection: connection, seed: 5, serverPort: 25, chaos: chaos)
            let steps: [(String?, String)] = [(nil, "220 mx\r\n"), ("EHLO x\r\n", "250 mx\r\n"), ("MAIL FROM:<a@b>\r\n", "250 Ok\r\n"),
                                              ("RCPT TO:<c@d>\r\n", "250 Ok\r\n"), ("DATA\r\n", "354 Go\r\n"), ("QUIT\r\n", "221 Bye\r\n"), ("NOOP\r\n", "250 Ok\r\n")]
            for (client, server) in steps {
                if let client { plan.clientBytes(utf8(client)) }
                if let decision = plan.serverBytes(utf8(server)) { names.formUnion(decision.firings.map(\.action.name)) }
            }
        }
        #expect(names == Set(FaultChaos.catalogue), "\(names)")
    }
}

@Suite("The outbox that holds and paces server bytes on record")
struct PacedOutboxTests {
    @Test func delayedBytesKeepTheirOrderAndLaterBytesWaitBehindThem() {
        var outbox = PacedOutbox()
        #expect(!outbox.isEngaged)
        outbox.add(utf8("first"), now: 1_000, delay: 5_000)
        outbox.add(utf8("second"), now: 2_000)
        #expect(outbox.nextDue == 6_000)
        #expect(outbox.takeDue(now: 5_999).isEmpty)
        #expect(outbox.takeDue(now: 6_000) == [utf8("first"), utf8("second")])
        #expect(outbox.isEmpty && !outbox.isEngaged && outbox.queuedBytes == 0)
    }

    @Test func aRateCutsWritesAndSpacesThem() {
        var outbox = PacedOutbox()
        outbox.shape(rate: 100, slice: nil)
        #expect(outbox.isEngaged)
        outbox.add(Array(repeating: 0x41, count: 12), now: 0)
        // A twentieth of a second's bytes per write (5), each due after its time at 100 B/s.
        #expect(outbox.queuedBytes == 12)
        #expect(outbox.takeDue(now: 49_999_999).isEmpty)
        #expect(outbox.takeDue(now: 50_000_000).map(\.count) == [5])
        #expect(outbox.takeDue(now: 100_000_000).map(\.count) == [5])
        #expect(outbox.nextDue == 120_000_000)
        #expect(outbox.takeDue(now: 200_000_000).map(\.count) == [2])
    }

    @Test func sliceCutsWithoutWaiting() {
        var outbox = PacedOutbox()
        outbox.shape(rate: nil, slice: 4)
        outbox.add(utf8("250-mx\r\n"), now: 10)
        #expect(outbox.takeDue(now: 10) == [utf8("250-"), utf8("mx\r\n")])
        outbox.add(utf8("x"), now: 20)
        outbox.discard()
        #expect(outbox.isEmpty && outbox.queuedBytes == 0)
    }
}
