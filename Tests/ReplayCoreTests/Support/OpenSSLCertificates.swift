import Foundation

/// A throwaway CA and a server certificate for `localhost` and 127.0.0.1 that it signed, made
/// by the `openssl` command (a party other than replayd, so a test of replayd's TLS does not
/// trust certificates replayd made itself).
struct OpenSSLCertificates {
    let directory: String
    var caPath: String { directory + "/ca.pem" }
    var certificatePath: String { directory + "/cert.pem" }
    var keyPath: String { directory + "/key.pem" }

    /// Makes them in `directory`, or throws `ChildProcessError` when openssl is missing or fails.
    init(in directory: String, name: String = "localhost") async throws {
        self.directory = directory
        let extensions = directory + "/server.ext"
        try "subjectAltName=DNS:\(name),IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try await Self.run(["req", "-x509"] + ec + ["-keyout", directory + "/ca-key.pem", "-out", directory + "/ca.pem",
                                                    "-days", "2", "-subj", "/CN=replayd test CA"])
        try await Self.run(["req", "-new"] + ec + ["-keyout", directory + "/key.pem", "-out", directory + "/server.csr",
                                                   "-subj", "/CN=\(name)"])
        try await Self.run(["x509", "-req", "-in", directory + "/server.csr", "-CA", directory + "/ca.pem",
                            "-CAkey", directory + "/ca-key.pem", "-CAcreateserial", "-out", directory + "/cert.pem",
                            "-days", "2", "-extfile", extensions])
        chmod(directory + "/key.pem", 0o600)
    }

    private static func run(_ arguments: [String]) async throws {
        let openssl = try ChildProcess("openssl", arguments)
        let status = try await openssl.wait(timeout: 20)
        guard status == 0 else { throw OpenSSLFailure(arguments: arguments, output: openssl.stderr) }
    }
}

struct OpenSSLFailure: Error, CustomStringConvertible {
    var arguments: [String]
    var output: String
    var description: String { "openssl \(arguments.joined(separator: " ")) failed: \(output)" }
}
