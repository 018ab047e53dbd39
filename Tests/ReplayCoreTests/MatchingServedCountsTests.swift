import Testing
@testable import ReplayCore

@Suite("ServedCounts")
struct MatchingServedCountsTests {
    /// The lowest count is kept as connections move between conversations; `servedIfLeast`
    /// answers what a scan of every count would, after each of a thousand random moves.
    @Test func theLowestCountFollowsEveryMoveAsAScanWouldSeeIt() {
        let conversations = 7
        let counts = ServedCounts(conversations: conversations)
        var random = SplitMix64(seed: 0x5E2_7ED)
        // Each simulated connection follows one conversation (or none yet).
        var following: [Int?] = Array(repeating: nil, count: 12)
        for _ in 0..<1000 {
            let connection = Int.random(in: 0..<following.count, using: &random)
            let target = Int.random(in: 0..<conversations, using: &random)
            counts.move(from: following[connection], to: target)
            following[connection] = target
            let snapshot = counts.snapshot
            let lowest = snapshot.min() ?? 0
            #expect(snapshot.reduce(0, +) == following.compactMap { $0 }.count)
            for conversation in 0..<conversations {
                for asker in [false, true] where !asker || snapshot[conversation] > 0 {
                    let served = snapshot[conversation] - (asker ? 1 : 0)
                    #expect(counts.servedIfLeast(conversation, followedByAsker: asker) == (served <= lowest ? served : nil),
                            "conversation \(conversation) with counts \(snapshot)")
                }
            }
        }
    }

    @Test func aConversationOutsideTheSetIsNeverLeast() {
        let counts = ServedCounts(conversations: 2)
        #expect(counts.servedIfLeast(5, followedByAsker: false) == nil)
        #expect(counts.servedIfLeast(0, followedByAsker: false) == 0)
        counts.move(from: nil, to: 0)
        #expect(counts.servedIfLeast(0, followedByAsker: false) == nil)
        #expect(counts.servedIfLeast(0, followedByAsker: true) == 0)
        #expect(counts.servedIfLeast(1, followedByAsker: false) == 0)
    }

    /// Many equal sessions (more than a scan compares exactly): each connection keeps the
    /// session it opened on for every later message, as the full scan chose before the
    /// shortcut, and connections spread over sessions as before.
    @Test func connectionsKeepTheirSessionAmongManyEqualOnes() {
        let steps = [("EHLO x\r\n", "250 mx\r\n"), ("MAIL FROM:<a@b>\r\n", "250 Ok\r\n"), ("QUIT\r\n", "221 Bye\r\n")]
        let sessions = (1...40).map { ScriptedSession.lines(steps, id: $0) }
        let set = ConversationSet(cassettes: [("many.cassette", sessions)])
        var cursors = (1...10).map { ConversationCursor(set: set, connection: $0) }
        var opened: [Int] = []
        for index in cursors.indices { opened.append(cursors[index].open()?.conversation ?? -1) }
        #expect(Set(opened).count == 10, "ten connections at once open on ten different sessions: \(opened)")
        for (text, _) in steps {
            for index in cursors.indices {
                let message = FramedMessage(bytes: Array(text.utf8))
                let key = LineDialect().key(ofClient: message, masks: .none)
                guard case .matched(let choice) = cursors[index].receive(message, key: key, dialect: LineDialect()) else {
                    Issue.record("\(text) did not match")
                    continue
                }
                #expect(choice.conversation == opened[index])
            }
        }
        #expect(set.served.snapshot.reduce(0, +) == 10)
        #expect(set.served.snapshot.max() == 1)
    }
}
