import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real Dovecot of its own: POP3 on a free loopback port with STARTTLS (STLS) offered with a
/// given certificate, one user `alice` (password `secret`) from a passwd-file, run in the
/// foreground (`dovecot -F -c CONF`) with its state in a temp folder. Needs root.
final class DovecotServer {
    static let user = "alice", password = "secret"
    let port: Int
    let directory: String
    private let process: ChildProcess

    init(directory: String, certificate: String, key: String) async throws {
        self.directory = directory + "/dovecot"
        let home = self.directory + "/home/" + Self.user
        for folder in [self.directory + "/run", self.directory + "/state", home] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        // Mail is owned by nobody: Dovecot refuses to run a mail user as root.
        guard chown(home, 65534, 65534) == 0 else { throw POSIXFailure("chown \(home)") }
        try "\(Self.user):{PLAIN}\(Self.password)\n".write(toFile: self.directory + "/passwd", atomically: true, encoding: .utf8)
        port = try LoopbackPort.free()
        let conf = """
            base_dir = \(self.directory)/run
            state_dir = \(self.directory)/state
            log_path = \(self.directory)/dovecot.log
            protocols = pop3
            listen = 127.0.0.1
            ssl = yes
            ssl_cert = <\(certificate)
            ssl_key = <\(key)
            disable_plaintext_auth = no
            first_valid_uid = 1
            passdb {
              driver = passwd-file
              args = \(self.directory)/passwd
            }
            userdb {
              driver = static
              args = uid=65534 gid=65534 home=\(self.directory)/home/%u
            }
            mail_location = maildir:~/Maildir
            service pop3-login {
              inet_listener pop3 {
                port = \(port)
              }
              inet_listener pop3s {
                port = 0
              }
            }

            """
        try conf.write(toFile: self.directory + "/dovecot.conf", atomically: true, encoding: .utf8)
        process = try ChildProcess("dovecot", ["-F", "-c", self.directory + "/dovecot.conf"])
        do {
            try await LoopbackPort.waitForListener(port: port, timeout: 20)
        } catch {
            process.stop()
            throw ChildProcessError.missingOutput(name: "dovecot", expected: "a POP3 listener on 127.0.0.1:\(port)", stderr: log)
        }
    }

    /// What Dovecot logged, for failure messages.
    var log: String { (try? String(contentsOfFile: directory + "/dovecot.log", encoding: .utf8)) ?? "(no log)" }

    func stop() { process.stop() }

    deinit { stop() }
}
