import ArgumentParser
import ReplayCore

/// `replayd cert --out DIR`: a throwaway CA and a server certificate for testing TLS recording.
struct CertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Make a throwaway local CA and a server certificate signed by it, for testing TLS.",
        discussion: """
        Writes four PEM files into DIR (made if missing; files of these names are replaced): \
        ca.pem and ca-key.pem, a new certificate authority, and cert.pem and key.pem, a server \
        certificate it signed, valid for a year, for every --name (host names as DNS names, \
        addresses as IP addresses; default localhost and 127.0.0.1). Keys are P-256, in files of \
        mode 0600. Give cert.pem and key.pem to `record --tls-cert --tls-key`, and make the client \
        trust ca.pem. This CA is for a test machine only: anyone who can read ca-key.pem can \
        make certificates that clients trusting ca.pem accept.

        EXAMPLES
          replayd cert --out tls
          replayd cert --out tls --name mail.test --name localhost --name 127.0.0.1
          replayd record --listen 2525 --upstream 127.0.0.1:25 -o smtp.cassette --starttls smtp --tls-cert tls/cert.pem --tls-key tls/key.pem --upstream-insecure
          swaks --server 127.0.0.1:2525 --tls --tls-ca-path tls/ca.pem --to user@example.test
        """
    )

    @Option(help: ArgumentHelp("The directory to write ca.pem, ca-key.pem, cert.pem and key.pem into.", valueName: "DIR"))
    var out: String

    @Option(name: .customLong("name"), help: ArgumentHelp("A host name or IP address the certificate is for (repeatable; default localhost and 127.0.0.1).", valueName: "HOST"))
    var names: [String] = []

    func run() throws {
        let files: TestCertificateAuthority.Files
        do {
            files = try TestCertificateAuthority.write(to: out, names: names)
        } catch {
            throw failure(CommandError("\(error)", status: { if case .badName = error { return .usage } else { return .ioError } }()))
        }
        let names = self.names.isEmpty ? TestCertificateAuthority.defaultNames : self.names
        print("""
            wrote \(files.caCertificate) (CA certificate), \(files.caKey) (CA key, mode 0600)
            wrote \(files.certificate) (server certificate for \(names.joined(separator: ", "))), \(files.key) (its key, mode 0600)
            record with: --tls-cert \(files.certificate) --tls-key \(files.key)
            make clients trust the CA, e.g.:
              swaks --tls --tls-ca-path \(files.caCertificate) ...
              curl --cacert \(files.caCertificate) https://localhost:PORT/
              openssl s_client -CAfile \(files.caCertificate) -connect 127.0.0.1:PORT
            """)
    }
}
