/// Cuts both directions of one connection into messages. One framer serves one connection, in
/// either role: replay feeds it the live client's bytes and the replies it sends, verify feeds
/// it the recorded client side and the live server's replies, and loading a cassette feeds it
/// the recorded session. It sees both directions because some protocols frame one side by what
/// the other said (SMTP's DATA body starts after the 354, a POP3 `RETR` reply is multi-line,
/// an HTTP reply to `HEAD` has no body).
///
/// Bytes may come in any chunking: a message split over several calls is returned once, whole,
/// from the call that completes it; several messages in one call come back in order.
public protocol MessageFramer: Sendable {
    /// Client bytes, in order. Returns every message they complete.
    mutating func clientBytes(_ bytes: [UInt8]) -> [FramedMessage]
    /// The same, appending the messages to `messages`: replay keeps that array from read to
    /// read, so a connection does not allocate a new one for every read.
    mutating func clientBytes(_ bytes: [UInt8], into messages: inout [FramedMessage])
    /// Server bytes, in order. Returns every message they complete.
    mutating func serverBytes(_ bytes: [UInt8]) -> [FramedMessage]
    /// Server bytes whose messages the caller does not need (replay's own replies, which go
    /// through the framer only so that it frames the client by them): the framer ends in the
    /// same state as after `serverBytes`, and may skip building the messages.
    mutating func observeServerBytes(_ bytes: [UInt8])
    /// The client half-closed: returns what is left of its stream as a last message, if any.
    mutating func clientFinished() -> [FramedMessage]
    /// The server half-closed: returns what is left of its stream as a last message, if any.
    mutating func serverFinished() -> [FramedMessage]
    /// Bytes of a client message received so far but not yet complete (for mismatch lines and
    /// for the fallback framer, which completes a message by length).
    var pendingClientBytes: Int { get }
}

extension MessageFramer {
    public mutating func clientBytes(_ bytes: [UInt8], into messages: inout [FramedMessage]) {
        messages.append(contentsOf: clientBytes(bytes))
    }

    public mutating func observeServerBytes(_ bytes: [UInt8]) {
        _ = serverBytes(bytes)
    }
}
