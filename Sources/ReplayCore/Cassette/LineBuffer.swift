/// A growable byte buffer that the cassette encoder writes into through a raw pointer.
///
/// Importing a large capture writes hundreds of megabytes of JSON lines; appending them to a
/// `[UInt8]` one byte or one small run at a time costs a uniqueness check and a bounds check per
/// append. Here the encoder asks for room once (`reserve`), writes through the pointer and
/// commits what it wrote. Non-copyable, so the memory has exactly one owner and is freed once.
struct LineBuffer: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    /// Bytes written so far.
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    var isEmpty: Bool { count == 0 }

    /// Makes room for `extra` more bytes and returns where they go; `commit` says how many were written.
    @inline(__always)
    mutating func reserve(_ extra: Int) -> UnsafeMutablePointer<UInt8> {
        if count + extra > capacity { grow(to: count + extra) }
        return base + count
    }

    @inline(__always)
    mutating func commit(_ written: Int) {
        count += written
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1).pointee = byte
        count += 1
    }

    /// Appends the UTF-8 of a literal (no allocation: a `StaticString` is a pointer and a length).
    @inline(__always)
    mutating func append(_ literal: StaticString) {
        let length = literal.utf8CodeUnitCount
        reserve(length).update(from: literal.utf8Start, count: length)
        count += length
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        UnsafeMutableRawPointer(reserve(bytes.count)).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Appends `value` in decimal, without going through `String`.
    mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(UInt64(value.magnitude))
        } else {
            appendDecimal(UInt64(value))
        }
    }

    /// Appends `value` in decimal, left-padded with zeros to at least `width` digits.
    mutating func appendDecimal(_ value: UInt64, width: Int = 1) {
        var digits = 1
        var rest = value / 10
        while rest > 0 { digits += 1; rest /= 10 }
        let length = max(digits, width)
        let out = reserve(length)
        var remaining = value
        var index = length - 1
        while index >= 0 {
            out[index] = UInt8(truncatingIfNeeded: remaining % 10) &+ UInt8(ascii: "0")
            remaining /= 10
            index -= 1
        }
        count += length
    }

    /// The bytes written so far, valid until the next mutation.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Drops the first `written` bytes (after a partial write), keeping the rest in order.
    mutating func removeFirst(_ written: Int) {
        let kept = count - written
        if kept > 0 { UnsafeMutableRawPointer(base).copyMemory(from: base + written, byteCount: kept) } // memmove: may overlap
        count = max(0, kept)
    }

    mutating func removeAll() { count = 0 }
}
