import Foundation

/// One `tshark -q -z follow,tcp,raw,N` output: the two nodes and their chunks in order.
struct FollowReference {
    /// `host:port` (`[v6]:port`) of node 0, the sender of the stream's first captured packet.
    var node0: String
    var node1: String
    /// Data chunks per node (tshark's "[N bytes missing in capture file]" markers left out).
    var bytes: [[UInt8]] = [[], []]
    /// Sizes from tshark's "[N bytes missing in capture file]" markers, per node.
    var missing: [[Int]] = [[], []]

    init(text: String) throws {
        var node0 = "", node1 = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("Node 0: ") { node0 = String(line.dropFirst(8)); continue }
            if line.hasPrefix("Node 1: ") { node1 = String(line.dropFirst(8)); continue }
            if line.hasPrefix("===") || line.hasPrefix("Follow:") || line.hasPrefix("Filter:") { continue }
            let node = line.hasPrefix("\t") ? 1 : 0
            guard let chunk = Self.hex(line.drop { $0 == "\t" }) else {
                throw ReferenceError.badLine(String(line.prefix(80)))
            }
            if let size = Self.missingMarker(chunk) {
                missing[node].append(size)
            } else {
                bytes[node].append(contentsOf: chunk)
            }
        }
        self.node0 = node0
        self.node1 = node1
    }

    /// tshark writes a lost segment into raw output as the text "[N bytes missing in capture file]" and a NUL.
    static func missingMarker(_ chunk: [UInt8]) -> Int? {
        var text = String(decoding: chunk, as: UTF8.self)
        if text.hasSuffix("\0") { text.removeLast() }
        guard text.hasPrefix("["), text.hasSuffix(" bytes missing in capture file]") else { return nil }
        return Int(text.dropFirst().prefix { $0.isNumber })
    }

    static func hex(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var result = [UInt8]()
        result.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            result.append(high << 4 | low)
            index += 2
        }
        return result
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: return digit - 0x30
        case 0x61...0x66: return digit - 0x61 + 10
        case 0x41...0x46: return digit - 0x41 + 10
        default: return nil
        }
    }

    enum ReferenceError: Error { case badLine(String) }
}

/// Where the reference captures live: `REPLAYD_SHARED_CAPTURES`, else `../shared/captures`, else nil.
enum ImportCorpus {
    static var directory: String? { TestPaths.sharedCaptures }

    /// Captures that have at least one `reference/<file>.streamN.txt`, sorted.
    static var referencedCaptures: [String] {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory + "/reference") else { return [] }
        var captures = Set<String>()
        for name in names where name.hasSuffix(".txt") {
            if let range = name.range(of: ".stream") { captures.insert(String(name[..<range.lowerBound])) }
        }
        return captures.sorted()
    }

    /// The stream numbers with a reference for `capture`.
    static func streams(of capture: String, in directory: String) -> [Int] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory + "/reference") else { return [] }
        return names.compactMap { name -> Int? in
            guard name.hasPrefix(capture + ".stream"), name.hasSuffix(".txt") else { return nil }
            return Int(name.dropFirst(capture.count + 7).dropLast(4))
        }.sorted()
    }
}
