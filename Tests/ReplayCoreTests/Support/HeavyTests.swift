import Testing

/// Tests that keep both cores busy (tens of megabytes through sockets, dozens of tshark runs)
/// or that measure throughput, memory or bytes in flight while they run. They run one after
/// another: on a two-core machine two of them at once starve each other, and what the
/// measuring ones check (a recorder keeping up at 60 MB/s, a bound on buffered bytes) stops
/// meaning anything.
@Suite("Heavy tests, one at a time", .serialized)
enum HeavyTests {}
