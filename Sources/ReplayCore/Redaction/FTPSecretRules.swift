/// FTP: the `PASS` argument (the whole rest of the line: a password may hold spaces).
struct FTPSecretRules: SecretRules {
    func initialStep(_ direction: Direction) -> ScanStep { .line }

    mutating func take(_ unit: ArraySlice<UInt8>, direction: Direction, secrets: inout [FoundSecret]) -> ScanStep {
        guard direction == .clientToServer else { return .line }
        let line = SecretLine(unit)
        guard line.startsWithLetter(in: "P") else { return .line }
        if let verb = line.words.first, line.word(verb, is: "PASS"), let range = line.rest(fromWord: 1) {
            secrets.append(FoundSecret(range: range, rule: "ftp-pass"))
        }
        return .line
    }
}
