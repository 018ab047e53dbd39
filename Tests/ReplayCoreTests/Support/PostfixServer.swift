import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real Postfix instance of its own: configuration, queue and data directories in a temp
/// folder, one `smtpd` on a free loopback port, nothing shared with the system's Postfix.
///
/// Its policy is an MTA's usual one: it is the final destination for `example.net`, whose
/// users are listed in a texthash map (`postmaster`, `alice`), so that
/// - a listed user gets `250`,
/// - any other user of example.net gets `550 5.1.1 ... User unknown in local recipient table`,
/// - any other domain gets `554 5.7.1 ... Relay access denied` (127.0.0.1 is not trusted:
///   `mynetworks` holds only a TEST-NET address).
/// Accepted mail stays in the private queue (no queue manager runs), removed with the folder.
/// Needs root (Postfix's master runs as root and drops to the `postfix` user).
final class PostfixServer {
    static let users = ["postmaster", "alice"]
    let port: Int
    let directory: String
    private var masterPID: pid_t?

    /// Writes the configuration into `directory`/postfix and starts the instance
    /// (`postfix -c DIR start`, which returns once the master runs).
    /// With `tls`, smtpd offers STARTTLS with that certificate and key (`smtpd_tls_security_level = may`).
    init(directory: String, tls: (certificate: String, key: String)? = nil) async throws {
        self.directory = directory + "/postfix"
        let conf = self.directory + "/conf", queue = self.directory + "/queue", data = self.directory + "/data"
        for folder in [conf, queue, data] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        // Postfix's daemons run as the postfix user: the master's lock file lives in data_directory.
        guard let postfix = getpwnam("postfix") else {
            throw ChildProcessError.notInstalled("postfix (no \"postfix\" user)")
        }
        guard chown(data, postfix.pointee.pw_uid, postfix.pointee.pw_gid) == 0 else { throw POSIXFailure("chown \(data)") }
        port = try LoopbackPort.free()
        let mainCF = """
            compatibility_level = 3.6
            queue_directory = \(queue)
            data_directory = \(data)
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = mx.example.net
            mydomain = example.net
            myorigin = example.net
            mydestination = example.net
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 192.0.2.1/32
            smtpd_relay_restrictions = reject_unauth_destination
            local_recipient_maps = texthash:\(conf)/recipients
            alias_maps =
            alias_database =
            smtpd_banner = $myhostname ESMTP Postfix
            smtpd_peername_lookup = no
            maillog_file = \(self.directory)/maillog
            maillog_file_prefixes = \(self.directory)
            biff = no

            """ + (tls.map { """
            smtpd_tls_cert_file = \($0.certificate)
            smtpd_tls_key_file = \($0.key)
            smtpd_tls_security_level = may

            """ } ?? "")
        // Only what an smtpd needs to answer MAIL, RCPT and DATA; no chroot (the temp queue has no /etc copies).
        let masterCF = """
            127.0.0.1:\(port) inet n - n - - smtpd
            cleanup   unix n - n - 0 cleanup
            rewrite   unix - - n - - trivial-rewrite
            proxymap  unix - - n - - proxymap
            anvil     unix - - n - 1 anvil
            postlog   unix-dgram n - n - 1 postlogd

            """ + (tls == nil ? "" : """
            tlsmgr    unix - - n 1000? 1 tlsmgr

            """)
        try mainCF.write(toFile: conf + "/main.cf", atomically: true, encoding: .utf8)
        try masterCF.write(toFile: conf + "/master.cf", atomically: true, encoding: .utf8)
        try (Self.users.map { "\($0) ok" }.joined(separator: "\n") + "\n").write(toFile: conf + "/recipients", atomically: true, encoding: .utf8)

        let start = try ChildProcess("postfix", ["-c", conf, "start"])
        let status = try await start.wait(timeout: 60)
        masterPID = (try? String(contentsOfFile: queue + "/pid/master.pid", encoding: .utf8))
            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard status == 0, masterPID != nil else {
            stop()
            throw ChildProcessError.missingOutput(name: "postfix -c \(conf) start", expected: "a running master (exit \(status))",
                                                  stderr: start.stderr + "\nmaillog:\n" + maillog)
        }
        do {
            try await LoopbackPort.waitForListener(port: port, timeout: 20)
        } catch {
            stop()
            throw ChildProcessError.missingOutput(name: "postfix smtpd", expected: "a listener on 127.0.0.1:\(port)", stderr: maillog)
        }
    }

    /// What the instance logged (its maillog_file), for failure messages.
    var maillog: String { (try? String(contentsOfFile: directory + "/maillog", encoding: .utf8)) ?? "(no maillog)" }

    /// Stops the master, which stops its daemons: SIGTERM, then SIGKILL after 3 s. Synchronous,
    /// so that a `defer` can call it.
    func stop() {
        guard let pid = masterPID else { return }
        masterPID = nil
        kill(pid, SIGTERM)
        for _ in 0..<150 where isAlive(pid) { usleep(20_000) }
        if isAlive(pid) { kill(pid, SIGKILL) }
    }

    /// Whether `pid` runs: a zombie (the master is the child of postfix's start script, not
    /// of this process, so nobody here reaps it) counts as gone.
    private func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return !stat[close...].hasPrefix(") Z")
    }

    deinit { stop() }
}
