/// POP3: the `PASS` argument, the `APOP` digest and `AUTH` initial responses and continuation
/// lines. `USER` and the APOP name stay visible.
struct POP3SecretRules: SecretRules {
    private var inAuth = false

    func initialStep(_ direction: Direction) -> ScanStep { .line }

    mutating func take(_ unit: ArraySlice<UInt8>, direction: Direction, secrets: inout [FoundSecret]) -> ScanStep {
        let line = SecretLine(unit)
        if direction == .serverToClient {
            // `+OK` and `-ERR` end an exchange; `+ ` (or a bare `+`) is a challenge.
            if inAuth, line.hasPrefix("+OK") || line.hasPrefix("-ERR") || !line.hasPrefix("+") { inAuth = false }
            return .line
        }
        if inAuth {
            if let range = line.wholeContent { secrets.append(FoundSecret(range: range, rule: "pop3-auth")) }
            return .line
        }
        guard line.startsWithLetter(in: "PA") else { return .line }
        let words = line.words
        guard let verb = words.first else { return .line }
        if line.word(verb, is: "PASS"), let range = line.rest(fromWord: 1) {
            secrets.append(FoundSecret(range: range, rule: "pop3-pass"))
        } else if line.word(verb, is: "APOP"), words.count >= 3, let digest = words.last {
            secrets.append(FoundSecret(range: digest, rule: "pop3-apop"))
        } else if line.word(verb, is: "AUTH"), words.count >= 2 {
            inAuth = true
            if let initial = line.rest(fromWord: 2) { secrets.append(FoundSecret(range: initial, rule: "pop3-auth")) }
        }
        return .line
    }
}
