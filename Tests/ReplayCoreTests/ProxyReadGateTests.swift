import Testing
@testable import ReplayCore

/// When a proxied connection may read, with no sockets: writability and the recorder's
/// answers are plain values.
@Suite("ProxyReadGate")
struct ProxyReadGateTests {
    @Test("a read goes through while the partner is writable and the recorder keeps up")
    func flowing() {
        var gate = ReadGate()
        #expect(gate.readRequested(.client, partnerWritable: true) == [.read(.client)])
        #expect(gate.recorded(backlogged: false).isEmpty)
        #expect(gate.readRequested(.server, partnerWritable: true) == [.read(.server)])
    }

    @Test("a read held for an unwritable partner resumes when that partner becomes writable")
    func writability() {
        var gate = ReadGate()
        #expect(gate.readRequested(.server, partnerWritable: false).isEmpty)
        #expect(gate.isHolding(.server))
        #expect(gate.becameWritable(.server).isEmpty, "the server's own writability does not free its read")
        #expect(gate.becameWritable(.client) == [.read(.server)])
        #expect(gate.becameWritable(.client).isEmpty, "a read is done once")
    }

    @Test("a backlogged recorder holds both sides once, and its drain resumes both")
    func recorderHoldsBothSides() {
        var gate = ReadGate()
        #expect(gate.recorded(backlogged: true) == [.waitForRecorder])
        #expect(gate.recorded(backlogged: true).isEmpty, "one wait per backlog, not one per event")
        #expect(gate.readRequested(.client, partnerWritable: true).isEmpty)
        #expect(gate.readRequested(.server, partnerWritable: true).isEmpty)
        #expect(gate.becameWritable(.server).isEmpty, "writability alone does not end the recorder's hold")
        #expect(gate.recorderDrained(writable: [.client, .server]) == [.read(.client), .read(.server)])
        #expect(!gate.waitingForRecorder)
        #expect(gate.readRequested(.client, partnerWritable: true) == [.read(.client)])
        #expect(gate.recorded(backlogged: true) == [.waitForRecorder], "a new backlog waits again")
    }

    @Test("after the recorder drains, a side whose partner is still unwritable stays held until it is writable")
    func drainedButUnwritable() {
        var gate = ReadGate()
        _ = gate.recorded(backlogged: true)
        _ = gate.readRequested(.client, partnerWritable: true)
        _ = gate.readRequested(.server, partnerWritable: false)
        // The client's partner (server) is writable, the server's partner (client) is not.
        #expect(gate.recorderDrained(writable: [.server]) == [.read(.client)])
        #expect(gate.isHolding(.server))
        #expect(gate.becameWritable(.client) == [.read(.server)])
    }

    @Test("a drain callback with nothing waiting does nothing")
    func spuriousDrain() {
        var gate = ReadGate()
        _ = gate.readRequested(.client, partnerWritable: false)
        #expect(gate.recorderDrained(writable: [.client, .server]).isEmpty)
        #expect(gate.isHolding(.client))
    }
}
