/// How replay compares what a client sends with what the recorded client sent (`--match`).
public enum MatchMode: String, Sendable, CaseIterable {
    /// By protocol step: the same kind of message (verb, command, method and path, question);
    /// the content and the exact bytes choose among recordings. The default.
    case similar
    /// Every message must equal a recorded one after masks.
    case exact
    /// The foundation's behaviour: answer when the client has sent as many bytes as the recorded
    /// client had, sessions in accept order, nothing compared.
    case bytes
    /// Ignore the client: the recorded server side with its recorded timing, like netcat's blind script.
    case none
}

/// What replay does when nothing recorded fits a client's message (`--on-mismatch`).
public enum MismatchPolicy: String, Sendable, CaseIterable {
    /// The protocol's own error reply naming replayd (SMTP `502 5.5.1`, POP3 `-ERR`, IMAP `BAD`,
    /// Redis `-ERR`, HTTP `501`); close where the protocol has none. The default.
    case error
    /// Close the connection (FIN).
    case close
    /// Reset the connection (RST).
    case reset
    /// Answer nothing more and keep the connection open, until the client gives up (or `--hold`).
    case hold
    /// Send the reply recorded for this step anyway.
    case `continue`
}
