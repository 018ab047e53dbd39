/// SMTP: `AUTH PLAIN` (the initial response or the continuation after `334`: the whole blob,
/// which holds authzid, user and password), `AUTH LOGIN` (the password line; the user-name line
/// stays), any other mechanism's initial response and continuation lines. The mechanism stays.
/// Message bodies (after `DATA`, `BDAT` chunks) are not searched.
struct SMTPSecretRules: SecretRules {
    enum Auth: Sendable { case none, plain, loginUser, loginPassword, other }
    private var auth = Auth.none
    private var inBody = false

    func initialStep(_ direction: Direction) -> ScanStep { .line }

    mutating func take(_ unit: ArraySlice<UInt8>, direction: Direction, secrets: inout [FoundSecret]) -> ScanStep {
        let line = SecretLine(unit)
        if direction == .serverToClient {
            // A reply other than a challenge ends the exchange, whatever its outcome.
            if auth != .none, line.replyCode != 334 { auth = .none }
            return .line
        }
        if inBody {
            if line.contentEnd == 1, line[0] == UInt8(ascii: ".") { inBody = false }
            return .line
        }
        switch auth {
        case .none: break
        case .plain, .loginPassword, .other:
            if let range = line.wholeContent { secrets.append(FoundSecret(range: range, rule: Self.rule(auth))) }
            auth = auth == .other ? .other : .none
            return .line
        case .loginUser:
            auth = line.wholeContent == nil ? .none : .loginPassword
            return .line
        }
        guard line.startsWithLetter(in: "ABD") else { return .line }
        let words = line.words
        guard let verb = words.first else { return .line }
        if line.word(verb, is: "DATA"), words.count == 1 {
            inBody = true
        } else if line.word(verb, is: "BDAT"), words.count >= 2, let size = line.number(words[1]) {
            return .skip(size, secret: nil)
        } else if line.word(verb, is: "AUTH"), words.count >= 2 {
            let mechanism = words[1]
            let initial = line.rest(fromWord: 2)
            if line.word(mechanism, is: "PLAIN") {
                auth = initial == nil ? .plain : .none
                if let initial { secrets.append(FoundSecret(range: initial, rule: Self.rule(.plain))) }
            } else if line.word(mechanism, is: "LOGIN") {
                auth = initial == nil ? .loginUser : .loginPassword
            } else {
                auth = .other
                if let initial { secrets.append(FoundSecret(range: initial, rule: Self.rule(.other))) }
            }
        }
        return .line
    }

    static func rule(_ auth: Auth) -> String {
        switch auth {
        case .plain: return "smtp-auth-plain"
        case .loginUser, .loginPassword: return "smtp-auth-login"
        case .none, .other: return "smtp-auth"
        }
    }
}
