/// Decides, chunk by chunk, whether a payload is stored as readable text or as base64.
public enum PayloadText {
    /// The payload as text when it is valid UTF-8 with no control characters other than
    /// tab, CR and LF, so that a person can read and edit it; `nil` means store it as base64.
    ///
    /// Both encodings are lossless; this only chooses the one a person can edit.
    public static func readableText(_ bytes: [UInt8]) -> String? {
        for byte in bytes where byte < 0x20 || byte == 0x7f {
            if byte != UInt8(ascii: "\t"), byte != UInt8(ascii: "\r"), byte != UInt8(ascii: "\n") { return nil }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        return text
    }
}
