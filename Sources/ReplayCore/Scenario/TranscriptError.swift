/// A transcript that cannot be read: the file, the line and column (from 1) and what was
/// expected there, as a compiler reports it.
public struct TranscriptError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int
    public var detail: String

    public init(path: String, line: Int, column: Int, detail: String) {
        self.path = path
        self.line = line
        self.column = column
        self.detail = detail
    }

    public var description: String { "\(path):\(line):\(column): \(detail)" }
}
