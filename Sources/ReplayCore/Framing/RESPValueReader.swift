/// Finds where one RESP2/RESP3 value ends in a buffer, without allocating from any length it
/// reads: aggregates are walked with an explicit stack of element counts (so deep nesting
/// cannot overflow the call stack), and lengths beyond Redis's own limits make the value
/// invalid instead of something to wait for.
enum RESPValueReader {
    enum Scan: Equatable {
        /// The value ends just before `end`.
        case complete(end: Int)
        /// More bytes are needed.
        case incomplete
        /// Not RESP (an unknown type byte, a bad or absurd length).
        case invalid
    }

    /// Redis's `proto-max-bulk-len` default.
    static let maxBulkLength = 512 * 1024 * 1024
    /// More elements than any real reply holds; beyond it the length is taken to be garbage.
    static let maxElements = 1 << 32
    static let maxDepth = 256
    /// The longest simple line (`+`, `-`, `:` ...) or inline command accepted.
    static let maxLine = 65_536

    /// Scans the value starting at `start`.
    static func scan(_ buffer: [UInt8], from start: Int) -> Scan {
        // Elements still expected by each open aggregate; attributes do not count as elements.
        var stack: [(remaining: Int, attribute: Bool)] = []
        var position = start
        // Every round consumes at least two bytes, so this bounds the loop.
        for _ in 0...max(0, buffer.count - start) {
            guard position < buffer.count else { return .incomplete }
            guard let newline = WireBytes.newline(in: buffer, from: position + 1) else {
                return buffer.count - position > maxLine ? .invalid : .incomplete
            }
            guard newline - position <= maxLine else { return .invalid }
            var lineEnd = newline
            if lineEnd > position + 1, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let type = buffer[position]
            let field = buffer[(position + 1)..<lineEnd]
            let next = newline + 1
            var opened: (count: Int, attribute: Bool)?
            switch type {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "_"),
                 UInt8(ascii: ","), UInt8(ascii: "("), UInt8(ascii: "#"):
                position = next
            case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
                guard let length = WireBytes.decimal(field) else { return .invalid }
                if length == -1 && type == UInt8(ascii: "$") {
                    position = next
                } else {
                    guard length >= 0, length <= maxBulkLength else { return .invalid }
                    guard buffer.count - next >= length + 2 else { return .incomplete }
                    position = next + length + 2
                }
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                guard let count = WireBytes.decimal(field) else { return .invalid }
                position = next
                if count == -1 && type == UInt8(ascii: "*") { break }
                guard count >= 0, count <= maxElements else { return .invalid }
                let pairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
                opened = (pairs ? count * 2 : count, type == UInt8(ascii: "|"))
            default:
                return .invalid
            }
            if let opened {
                if opened.count > 0 {
                    guard stack.count < maxDepth else { return .invalid }
                    stack.append((opened.count, opened.attribute))
                    continue
                }
                if opened.attribute {
                    // An empty attribute: nothing to count in the enclosing aggregate.
                    if stack.isEmpty { return .complete(end: position) }
                    continue
                }
            }
            // A value is complete: count it in the enclosing aggregates, closing those it fills.
            while true {
                guard !stack.isEmpty else { return .complete(end: position) }
                stack[stack.count - 1].remaining -= 1
                if stack[stack.count - 1].remaining > 0 { break }
                let closed = stack.removeLast()
                if closed.attribute {
                    // An attribute precedes a value; at the top level it is a message of its own.
                    if stack.isEmpty { return .complete(end: position) }
                    break
                }
            }
        }
        return .incomplete
    }

    /// A client command's arguments: a RESP array of bulk strings, or an inline command split
    /// on spaces; `nil` when the bytes are neither.
    static func arguments(_ bytes: [UInt8]) -> [[UInt8]]? {
        guard bytes.first == UInt8(ascii: "*") else {
            let line = LineSplitter.trimmingLineEnding(bytes)
            guard !line.contains(UInt8(ascii: "\n")) else { return nil }
            return line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map(Array.init)
        }
        guard let newline = WireBytes.newline(in: bytes, from: 0),
              let count = WireBytes.decimal(trimmedCR(bytes[1..<newline])), count >= 0 else { return nil }
        var arguments: [[UInt8]] = []
        var position = newline + 1
        for _ in 0..<min(count, bytes.count) {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "$"),
                  let lineEnd = WireBytes.newline(in: bytes, from: position),
                  let length = WireBytes.decimal(trimmedCR(bytes[(position + 1)..<lineEnd])),
                  length >= 0, bytes.count - (lineEnd + 1) >= length else { return nil }
            arguments.append(Array(bytes[(lineEnd + 1)..<(lineEnd + 1 + length)]))
            position = lineEnd + 1 + length + 2
        }
        return arguments.count == count ? arguments : nil
    }

    private static func trimmedCR(_ field: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        field.last == 0x0D ? field.dropLast() : field
    }
}
