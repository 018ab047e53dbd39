import Foundation
import Testing
@testable import ReplayCore

/// End-to-end tests of replay reading the client (issue 6), with real programs: real servers
/// recorded through the real `replayd record`, then stopped, then real clients (swaks, Python's
/// smtplib, curl, redis-cli, dig) that talk differently from the recorded one answered by the
/// real `replayd replay`. Every child is started by the test, on loopback, on a port the OS
/// picked, bounded in time, and killed when the test ends. The programs come from
/// scripts/install-deps.sh; a missing one fails the test with a message saying so.
///
/// Nested in `HeavyTests`, so they run one at a time and never beside a test that keeps both
/// cores busy: the timing test measures delays to a few tens of milliseconds.
extension HeavyTests {
    @Suite("Replay engine end to end", .serialized, .timeLimit(.minutes(3)))
    enum ReplayEngineEndToEnd {}
}
