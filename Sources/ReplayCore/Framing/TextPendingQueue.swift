/// The client messages of one connection still waiting for their replies, oldest first, for
/// framers that frame a reply by the command it answers (a POP3 `RETR` reply is multi-line).
/// Popping is O(1): a client that pipelines many commands never pays for shifting the array.
struct TextPendingQueue<Element: Sendable>: Sendable {
    private var items: [Element] = []
    private var head = 0

    init() {}

    var isEmpty: Bool { head >= items.count }
    var count: Int { items.count - head }

    mutating func push(_ item: Element) {
        items.append(item)
    }

    /// The oldest waiting element, removed; `nil` when nothing waits.
    mutating func pop() -> Element? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    /// The oldest waiting element, left in place.
    var first: Element? { head < items.count ? items[head] : nil }
}
