import Testing
@testable import ReplayCore

/// `SMTPVerb` tells the framer's commands apart from bytes; it must agree with the verb as a
/// String (`LineSplitter.verb`) on every line, whatever its case, ending or garbage.
@Suite struct SMTPVerbTests {
    static let named: [String: SMTPVerb] = [
        "DATA": .data, "BDAT": .bdat, "LHLO": .lhlo, "EHLO": .ehlo, "HELO": .helo,
        "MAIL": .mail, "RSET": .rset, "RCPT": .rcpt,
    ]

    @Test(arguments: [
        ("DATA\r\n", SMTPVerb.data), ("data\n", .data), ("DaTa", .data), ("BDAT 10 LAST\r\n", .bdat),
        ("rcpt to:<a@b>\r\n", .rcpt), ("MAIL\tFROM:<>\r\n", .mail), ("EHLO x\r\n", .ehlo), ("HELO x\r\n", .helo),
        ("LHLO x\r\n", .lhlo), ("RSET\r\n", .rset), ("DATAX\r\n", .other), ("DAT\r\n", .other), ("", .other),
        (" DATA\r\n", .other), ("QUIT\r\n", .other), ("STARTTLS\r\n", .other), ("D\u{C4}TA\r\n", .other),
    ])
    func verbOfALine(line: String, verb: SMTPVerb) {
        #expect(SMTPVerb(Array(line.utf8)) == verb)
    }

    @Test func agreesWithTheStringVerb() {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("DATAbdatLHLOehlMIRSCPTxq \t\r\n:.<>".utf8) + [0xC3, 0x00, 0xFF]
        var lines = Self.named.keys.flatMap { [Array($0.utf8), Array(($0.lowercased() + " x\r\n").utf8), Array(($0 + "X\r\n").utf8)] }
        for _ in 0..<2000 {
            lines.append((0..<Int.random(in: 0...8, using: &random)).map { _ in alphabet.randomElement(using: &random) ?? 0 })
        }
        for line in lines {
            let expected = Self.named[LineSplitter.verb(line)] ?? .other
            #expect(SMTPVerb(line) == expected, "line \(line)")
        }
    }

    @Test func framingIntoAKeptArrayAppendsTheSameMessages() {
        let pipelined = Array("EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n".utf8)
        var returning = SMTPFramer()
        var appending = SMTPFramer()
        var kept = [FramedMessage(bytes: Array("earlier\r\n".utf8))]
        appending.clientBytes(pipelined, into: &kept)
        #expect(kept.map(\.bytes) == [Array("earlier\r\n".utf8)] + returning.clientBytes(pipelined).map(\.bytes))
        #expect(kept.count == 5)
    }
}
