/// The secrets verify puts back into redacted client bytes, by redaction rule name
/// (`smtp-auth-plain`, `redis-auth`…): from `--secret NAME=VALUE` first, then from the
/// environment variable `REPLAYD_SECRET_<NAME>` (upper-cased, `-` as `_`).
///
/// A cassette keeps a redacted secret as `*` placeholders of its length; the value replaces
/// them byte for byte as it is to be sent (for `AUTH PLAIN` the base64 credential itself).
public struct VerifySecrets: Sendable, Equatable {
    /// Values given on the command line, by rule name.
    public var given: [String: [UInt8]]
    /// The process environment (or a test's), read for rules not given.
    public var environment: [String: String]

    public init(given: [String: [UInt8]] = [:], environment: [String: String] = [:]) {
        self.given = given
        self.environment = environment
    }

    /// Parses `--secret NAME=VALUE` options; a value without `=` or with an empty name is an error.
    public init(options: [String], environment: [String: String]) throws(VerifySecretError) {
        var given: [String: [UInt8]] = [:]
        for option in options {
            guard let equals = option.firstIndex(of: "="), equals != option.startIndex else {
                throw VerifySecretError(option: option)
            }
            given[String(option[..<equals])] = Array(option[option.index(after: equals)...].utf8)
        }
        self.init(given: given, environment: environment)
    }

    /// The environment variable that holds the secret of `rule`.
    public static func environmentName(rule: String) -> String {
        "REPLAYD_SECRET_" + String(rule.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// The value for `rule`, or `nil` when neither way gave one.
    public func value(rule: String) -> [UInt8]? {
        if let value = given[rule] { return value }
        return environment[Self.environmentName(rule: rule)].map { Array($0.utf8) }
    }
}

/// A `--secret` option that is not `NAME=VALUE`.
public struct VerifySecretError: Error, Equatable, CustomStringConvertible {
    public var option: String

    public var description: String {
        "--secret \(option): expected NAME=VALUE, where NAME is the redaction rule show prints (e.g. smtp-auth-plain=AGFsaWNlAHNlY3JldA==)"
    }
}
