/// Frames one direction of a session for the secret search: collects a unit (a line, a field)
/// across chunks, hands it whole to the rules, and turns the secrets found into stream ranges.
/// Sans-I/O. A unit is held at most `unitLimit` bytes; a longer one passes through unread.
struct SecretScanner: Sendable {
    let direction: Direction
    /// Bytes of this direction seen so far (the next byte's stream offset).
    private(set) var offset = 0
    private var step: ScanStep
    private var unit: [UInt8] = []
    private var unitStart = 0
    /// Bytes left of a `skip`, and its secret's rule (if any).
    private var skipLeft = 0
    private var skipRule: String?
    /// A line longer than the limit: its rest passes through up to its LF.
    private var overflowing = false

    static let unitLimit = 64 * 1024

    init(direction: Direction, step: ScanStep) {
        self.direction = direction
        self.step = step
        begin(step)
    }

    /// Where this direction's bytes are final: nothing before it can still become secret.
    var safeOffset: Int { unit.isEmpty ? offset : unitStart }

    /// Whether the scanner is between units (a new framing can start here).
    var atBoundary: Bool { unit.isEmpty && skipLeft == 0 && !overflowing }

    /// Takes a framing decided from outside (the other direction said a tunnel began).
    mutating func override(_ newStep: ScanStep) {
        guard atBoundary else { return }
        begin(newStep)
    }

    /// Takes the next chunk of this direction; appends the secrets found (stream ranges).
    mutating func take(_ bytes: [UInt8], rules: inout any SecretRules, user: UserRedactionRules, found: inout [Redaction]) {
        var index = 0
        while index < bytes.count {
            switch step {
            case .skipToEnd:
                offset += bytes.count - index
                return
            case .skip:
                if skipLeft == 0 {
                    endSkip(rules: rules, found: &found)
                    continue
                }
                let count = min(skipLeft, bytes.count - index)
                index += count
                offset += count
                skipLeft -= count
                if skipLeft == 0 { endSkip(rules: rules, found: &found) }
            case .line:
                let rest = bytes[index...]
                let newline = rest.firstIndex(of: UInt8(ascii: "\n"))
                let end = newline.map { $0 + 1 } ?? bytes.count
                if overflowing {
                    offset += end - index
                    index = end
                    if newline != nil { overflowing = false }
                    continue
                }
                if unit.isEmpty, newline != nil {
                    // A whole line in this chunk: searched in place, not copied.
                    unitStart = offset
                    offset += end - index
                    complete(bytes[index..<end], rules: &rules, user: user, found: &found)
                    index = end
                    continue
                }
                if unit.isEmpty { unitStart = offset }
                unit.append(contentsOf: bytes[index..<end])
                offset += end - index
                index = end
                if newline != nil {
                    complete(rules: &rules, user: user, found: &found)
                } else if unit.count > Self.unitLimit {
                    // Too long to be a command: let it through unread.
                    unit.removeAll()
                    overflowing = true
                }
            case .field(let size):
                if unit.isEmpty { unitStart = offset }
                let count = min(size - unit.count, bytes.count - index)
                unit.append(contentsOf: bytes[index..<(index + count)])
                index += count
                offset += count
                if unit.count >= size { complete(rules: &rules, user: user, found: &found) }
            }
        }
    }

    /// The direction ended (or lost bytes): a partial unit is searched as it is.
    mutating func finish(rules: inout any SecretRules, user: UserRedactionRules, found: inout [Redaction]) {
        if !unit.isEmpty { complete(rules: &rules, user: user, found: &found) }
        skipLeft = 0
        skipRule = nil
        overflowing = false
        step = .line
    }

    /// Bytes are missing here (a capture gap): whatever framing was under way is lost.
    mutating func gap(_ count: Int, rules: inout any SecretRules, user: UserRedactionRules, found: inout [Redaction]) {
        if case .skip = step, skipLeft > count, skipRule == nil {
            skipLeft -= count
            return
        }
        finish(rules: &rules, user: user, found: &found)
        begin(.skipToEnd)
    }

    /// Gives up on the unit being collected (the session holds too much): it passes unread.
    mutating func abandonUnit() {
        guard !unit.isEmpty else { return }
        unit.removeAll()
        if step == .line { overflowing = true } else { begin(.skipToEnd) }
    }

    private mutating func complete(rules: inout any SecretRules, user: UserRedactionRules, found: inout [Redaction]) {
        let collected = unit
        unit.removeAll(keepingCapacity: unit.capacity <= 4096)
        complete(collected[...], rules: &rules, user: user, found: &found)
    }

    /// Hands one complete unit (starting at `unitStart`) to the rules and takes their framing.
    private mutating func complete(_ unit: ArraySlice<UInt8>, rules: inout any SecretRules, user: UserRedactionRules, found: inout [Redaction]) {
        var secrets: [FoundSecret] = []
        let wasLine = step == .line
        var next = rules.take(unit, direction: direction, secrets: &secrets)
        if case .skip(let count, _) = next, count <= 0 { next = rules.afterSkip(direction) }
        if wasLine, rules.appliesUserRules { user.secrets(in: unit, into: &secrets) }
        for secret in secrets where !secret.range.isEmpty && secret.range.lowerBound >= 0 && secret.range.upperBound <= unit.count {
            found.append(Redaction(direction: direction, offset: unitStart + secret.range.lowerBound,
                                   length: secret.range.count, rule: secret.rule))
        }
        begin(next)
    }

    private mutating func begin(_ next: ScanStep) {
        switch next {
        case .skip(let count, let rule):
            step = next
            skipLeft = max(0, count)
            skipRule = rule
            if let rule, count > 0 {
                // Known ahead: placeholders go in as the bytes arrive; announced when complete.
                secretsAhead.append(Redaction(direction: direction, offset: offset, length: count, rule: rule))
            }
        case .field(let size) where size <= 0 || size > Self.unitLimit:
            step = .skip(max(0, size), secret: nil)
            skipLeft = max(0, size)
            skipRule = nil
        default:
            step = next
        }
    }

    /// A secret whose range is known before its bytes come (a literal, a length-prefixed
    /// message): the session takes them (`takeSecretsAhead`) after every chunk.
    private var secretsAhead: [Redaction] = []

    mutating func takeSecretsAhead() -> [Redaction] {
        defer { secretsAhead.removeAll() }
        return secretsAhead
    }

    private mutating func endSkip(rules: any SecretRules, found: inout [Redaction]) {
        skipRule = nil
        begin(rules.afterSkip(direction))
    }
}
