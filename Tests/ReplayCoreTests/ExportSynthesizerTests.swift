import Testing
@testable import ReplayCore

/// The packet synthesizer on its own: no files, no clocks, times passed in as values.
@Suite struct ExportSynthesizerTests {
    let start = WallClock(nanosecondsSinceEpoch: 1_795_000_000_000_000_000)

    func event(_ offset: Int64, _ kind: SessionEventKind) -> SessionEvent {
        SessionEvent(session: 7, offset: offset, kind: kind)
    }

    func opened(failure: ConnectFailure? = nil) -> (PacketSynthesizer, [OutgoingSegment]) {
        var synthesizer = PacketSynthesizer(session: 7, start: start, connectFailure: failure)
        let open = SessionOpen(client: "127.0.0.1:1", server: "127.0.0.1:2", start: start)
        let segments = synthesizer.handle(event(0, .open(open)))
        return (synthesizer, segments)
    }

    @Test func handshakeDataAndOrderlyClose() {
        var (synthesizer, handshake) = opened()
        #expect(handshake.map(\.flags) == [.syn, [.syn, .ack], .ack])
        #expect(handshake.map(\.direction) == [.clientToServer, .serverToClient, .clientToServer])
        let c = handshake[0].sequence, s = handshake[1].sequence
        #expect(c != s)
        #expect(handshake[1].acknowledgment == c &+ 1)
        #expect(handshake[2].sequence == c &+ 1 && handshake[2].acknowledgment == s &+ 1)
        #expect(handshake.allSatisfy { $0.time == start })
        #expect(handshake[0].synOptions && handshake[1].synOptions && !handshake[2].synOptions)

        let hello = synthesizer.handle(event(1_000, .data(.clientToServer, Array("hello".utf8))))
        #expect(hello.count == 1)
        #expect(hello[0].flags == [.psh, .ack])
        #expect(hello[0].sequence == c &+ 1 && hello[0].acknowledgment == s &+ 1)
        #expect(Array(hello[0].payload) == Array("hello".utf8))
        #expect(hello[0].time.nanosecondsSinceEpoch == start.nanosecondsSinceEpoch + 1_000)

        let reply = synthesizer.handle(event(2_000, .data(.serverToClient, [1, 2, 3])))
        #expect(reply.count == 1)
        #expect(reply[0].direction == .serverToClient)
        #expect(reply[0].sequence == s &+ 1 && reply[0].acknowledgment == c &+ 6)

        let clientFin = synthesizer.handle(event(3_000, .close(.clientToServer, .fin)))
        #expect(clientFin.map(\.flags) == [[.fin, .ack], .ack])
        #expect(clientFin[0].sequence == c &+ 6 && clientFin[0].acknowledgment == s &+ 4)
        #expect(clientFin[1].direction == .serverToClient)
        #expect(clientFin[1].sequence == s &+ 4 && clientFin[1].acknowledgment == c &+ 7)

        let serverFin = synthesizer.handle(event(4_000, .close(.serverToClient, .fin)))
        #expect(serverFin.map(\.flags) == [[.fin, .ack], .ack])
        #expect(serverFin[0].sequence == s &+ 4 && serverFin[0].acknowledgment == c &+ 7)
        #expect(serverFin[1].sequence == c &+ 7 && serverFin[1].acknowledgment == s &+ 5)
        #expect(synthesizer.handle(event(4_000, .end)).isEmpty)
        #expect(synthesizer.droppedBytes == 0)
    }

    @Test func largeChunksAreSplitAndBulkTransfersAcknowledged() {
        var (synthesizer, handshake) = opened()
        let c = handshake[0].sequence, s = handshake[1].sequence
        let chunk = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let segments = synthesizer.handle(event(10, .data(.serverToClient, chunk)))
        #expect(segments.map(\.payload.count) == [65000, 65000, 20000])
        #expect(segments.map(\.flags) == [.ack, .ack, [.psh, .ack]])
        #expect(segments.map(\.sequence) == [s &+ 1, s &+ 65001, s &+ 130_001])
        #expect(segments.flatMap(\.payload) == chunk)

        // Past 1 MiB unacknowledged, the client acknowledges everything so far.
        var acknowledgments: [OutgoingSegment] = []
        for index in 0..<8 {
            let more = synthesizer.handle(event(20 + Int64(index), .data(.serverToClient, chunk)))
            acknowledgments += more.filter { $0.direction == .clientToServer }
        }
        #expect(acknowledgments.count == 1)
        #expect(acknowledgments.first?.flags == .ack)
        #expect(acknowledgments.first?.sequence == c &+ 1)
        #expect(acknowledgments.first?.payload.isEmpty == true)
        // 7 chunks of 150000 are the first segment end at or past 1 MiB.
        #expect(acknowledgments.first?.acknowledgment == s &+ 1 &+ 1_050_000)
    }

    @Test func gapsJumpTheSequenceNumbers() {
        var (synthesizer, handshake) = opened()
        let s = handshake[1].sequence
        _ = synthesizer.handle(event(1, .data(.serverToClient, [1, 2])))
        #expect(synthesizer.handle(event(2, .gap(.serverToClient, 1448))).isEmpty)
        let after = synthesizer.handle(event(3, .data(.serverToClient, [3])))
        #expect(after.first?.sequence == s &+ 1 &+ 2 &+ 1448)
        // The client's next segment acknowledges the missing bytes too (they were received).
        let client = synthesizer.handle(event(4, .data(.clientToServer, [4])))
        #expect(client.first?.acknowledgment == s &+ 1 &+ 2 &+ 1448 &+ 1)
    }

    @Test func dataInFlightAfterAResetFollowsIt() {
        var (synthesizer, handshake) = opened()
        let c = handshake[0].sequence, s = handshake[1].sequence
        let reset = synthesizer.handle(event(5, .reset(by: .clientToServer)))
        #expect(reset.count == 1)
        #expect(reset[0].flags == [.rst, .ack] && reset[0].sequence == c &+ 1 && reset[0].acknowledgment == s &+ 1)
        #expect(reset[0].time.nanosecondsSinceEpoch == start.nanosecondsSinceEpoch + 5)
        // The server's bytes still in flight go on the wire after the RST, on the same sequence space.
        let late = synthesizer.handle(event(6, .data(.serverToClient, [1, 2, 3])))
        #expect(late.count == 1)
        #expect(late.first?.direction == .serverToClient && late.first?.sequence == s &+ 1 && Array(late.first?.payload ?? []) == [1, 2, 3])
        #expect(late.first?.time.nanosecondsSinceEpoch == start.nanosecondsSinceEpoch + 6)
        // A FIN after it is sent too, but the client that reset acknowledges nothing any more.
        let fin = synthesizer.handle(event(7, .close(.serverToClient, .fin)))
        #expect(fin.map(\.flags) == [[.fin, .ack]])
        #expect(fin.first?.sequence == s &+ 4)
        #expect(synthesizer.handle(event(7, .reset(by: .clientToServer))).isEmpty, "one RST per side")
        #expect(synthesizer.handle(event(8, .end)).isEmpty)
        #expect(synthesizer.droppedBytes == 0)
        #expect(synthesizer.handle(event(9, .data(.serverToClient, [4]))).isEmpty)
        #expect(synthesizer.droppedBytes == 1)
    }

    @Test func refusedConnectIsASynAnsweredByReset() {
        var (synthesizer, segments) = opened(failure: ConnectFailure(reason: .refused, elapsed: 250_000, message: "refused"))
        #expect(segments.map(\.flags) == [.syn, [.rst, .ack]])
        #expect(segments[1].acknowledgment == segments[0].sequence &+ 1)
        #expect(segments[1].time.nanosecondsSinceEpoch == start.nanosecondsSinceEpoch + 250_000)
        #expect(synthesizer.handle(event(250_000, .connectFailed(ConnectFailure(reason: .refused, elapsed: 250_000, message: "")))).isEmpty)
        #expect(synthesizer.handle(event(300_000, .data(.clientToServer, [1]))).isEmpty)
        #expect(synthesizer.droppedBytes == 1)
    }

    @Test func timedOutConnectIsUnansweredSyns() {
        let (_, segments) = opened(failure: ConnectFailure(reason: .timeout, elapsed: 10_000_000_000, message: "timed out"))
        #expect(segments.allSatisfy { $0.flags == .syn && $0.direction == .clientToServer })
        #expect(Set(segments.map(\.sequence)).count == 1)
        let seconds = segments.map { ($0.time.nanosecondsSinceEpoch - start.nanosecondsSinceEpoch) / 1_000_000_000 }
        #expect(seconds == [0, 1, 3, 7])
    }

    @Test func eventsTimedBackwardsKeepTheEarlierTime() {
        var (synthesizer, _) = opened()
        _ = synthesizer.handle(event(5_000, .data(.clientToServer, [1])))
        let late = synthesizer.handle(event(4_000, .data(.clientToServer, [2])))
        #expect(late.first?.time.nanosecondsSinceEpoch == start.nanosecondsSinceEpoch + 5_000)
        #expect(synthesizer.reorderedEvents == 1)
    }

    @Test func framesCarryValidChecksums() throws {
        for (client, server) in [("192.0.2.1:40000", "198.51.100.7:25"), ("[2001:db8::1]:40000", "[2001:db8::2]:443")] {
            let encoder = TCPFrameEncoder(client: try #require(TCPEndpoint(cassetteAddress: client)),
                                          server: try #require(TCPEndpoint(cassetteAddress: server)))
            for payloadLength in [0, 1, 2, 1001] {
                let payload = (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
                let segment = OutgoingSegment(time: start, direction: .serverToClient, sequence: 0xfffffff0, acknowledgment: 99,
                                         flags: [.psh, .ack], payload: payload[...])
                let frame = encoder.frame(segment)
                let v6 = encoder.client.isIPv6
                #expect(Array(frame[12..<14]) == (v6 ? [0x86, 0xdd] : [0x08, 0x00]))
                let ipLength = v6 ? 40 : 20
                if !v6 {
                    #expect(TCPFrameEncoder.fold(TCPFrameEncoder.onesComplementSum(frame[14..<34], initial: 0)) == 0xffff)
                }
                // A segment whose checksum is right sums, with its pseudo-header, to all ones.
                let tcp = frame[(14 + ipLength)...]
                var pseudo = UInt32(6 + tcp.count)
                pseudo = TCPFrameEncoder.onesComplementSum(encoder.server.address[...], initial: pseudo)
                pseudo = TCPFrameEncoder.onesComplementSum(encoder.client.address[...], initial: pseudo)
                #expect(TCPFrameEncoder.fold(TCPFrameEncoder.onesComplementSum(tcp, initial: pseudo)) == 0xffff)
                #expect(Array(frame.suffix(payloadLength)) == payload)
                #expect(frame.count == 14 + ipLength + 20 + payloadLength)
            }
        }
    }

    @Test func cassetteAddressesParse() {
        #expect(TCPEndpoint(cassetteAddress: "127.0.0.1:25")?.description == "127.0.0.1:25")
        #expect(TCPEndpoint(cassetteAddress: "[::1]:8080")?.description == "[::1]:8080")
        #expect(TCPEndpoint(cassetteAddress: "[fe80::1%eth0]:22")?.address.count == 16)
        #expect(TCPEndpoint(cassetteAddress: "mx.example:25") == nil)
        #expect(TCPEndpoint(cassetteAddress: "::1:25") == nil)
        #expect(TCPEndpoint(cassetteAddress: "127.0.0.1:99999") == nil)
        #expect(TCPEndpoint(cassetteAddress: "127.0.0.1") == nil)
    }
}
