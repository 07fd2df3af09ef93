// The fault-injection facility: should_fail's attributes (times, interval, probability), the
// errno, the thread filter, and the S390PV_FAIL syntax. Points are armed for the test's own thread
// only where another suite could meet them; these tests are serialised among themselves.
import FaultInjection
import Foundation
import Testing

@Suite("Fault injection", .serialized)
struct FaultInjectionTests {
    @Test("a point that is not configured never fails (negative control)")
    func disarmed() {
        FaultInjection.clear(.secureParameters)
        for _ in 0..<1000 { #expect(FaultInjection.shouldFail(.secureParameters) == nil) }
    }

    @Test("every call fails with the errno; times bounds the failures; clear disarms")
    func timesAndErrno() throws {
        defer { FaultInjection.clear(.secureParameters) }
        let before = FaultInjection.failures(at: .secureParameters)
        try FaultInjection.configure(.secureParameters, FaultAttributes(errno: 28, times: 3, onlyConfiguringThread: true))
        let results = (0..<5).map { _ in FaultInjection.shouldFail(.secureParameters) }
        #expect(results == [28, 28, 28, nil, nil])
        #expect(FaultInjection.failures(at: .secureParameters) - before == 3)
        #expect(FaultInjection.attributes(of: .secureParameters)?.times == 0)
        try FaultInjection.configure(.secureParameters, FaultAttributes(errno: 12, onlyConfiguringThread: true))
        #expect(FaultInjection.shouldFail(.secureParameters) == 12)
        FaultInjection.clear(.secureParameters)
        #expect(FaultInjection.shouldFail(.secureParameters) == nil)
        #expect(FaultInjection.attributes(of: .secureParameters) == nil)
    }

    @Test("interval N fails every N-th call")
    func interval() throws {
        defer { FaultInjection.clear(.secureParameters) }
        try FaultInjection.configure(.secureParameters, FaultAttributes(errno: 12, interval: 3, onlyConfiguringThread: true))
        let failed = (1...9).filter { _ in FaultInjection.shouldFail(.secureParameters) != nil }
        #expect(failed == [3, 6, 9])
    }

    @Test("probability 0 never fails, 100 always, 50 about half (seeded)")
    func probability() throws {
        defer { FaultInjection.clear(.secureParameters) }
        for (percent, range) in [(0, 0...0), (100, 1000...1000), (50, 400...600)] {
            try FaultInjection.configure(.secureParameters, FaultAttributes(errno: 12, probability: percent, onlyConfiguringThread: true), seed: 42)
            let failures = (0..<1000).filter { _ in FaultInjection.shouldFail(.secureParameters) != nil }.count
            #expect(range.contains(failures), "probability \(percent): \(failures) of 1000")
        }
    }

    @Test("a point armed for one thread does not fail on another")
    func threadFilter() throws {
        defer { FaultInjection.clear(.secureParameters) }
        try FaultInjection.configure(.secureParameters, FaultAttributes(errno: 12, onlyConfiguringThread: true))
        final class Box: @unchecked Sendable { var value: Int32? = -1 }
        let other = Box(), done = DispatchSemaphore(value: 0)
        let thread = Thread {
            other.value = FaultInjection.shouldFail(.secureParameters)
            done.signal()
        }
        thread.start()
        done.wait()
        #expect(other.value == nil)
        #expect(FaultInjection.shouldFail(.secureParameters) == 12)
    }

    @Test("bad attributes are refused")
    func badAttributes() {
        #expect(throws: FaultInjectionError.self) { try FaultInjection.configure(.secureParameters, FaultAttributes(errno: 0)) }
        #expect(throws: FaultInjectionError.self) { try FaultInjection.configure(.secureParameters, FaultAttributes(errno: 12, interval: 0)) }
        #expect(throws: FaultInjectionError.self) { try FaultInjection.configure(.secureParameters, FaultAttributes(errno: 12, times: -2)) }
        #expect(throws: FaultInjectionError.self) { try FaultInjection.configure(.secureParameters, FaultAttributes(errno: 12, probability: 101)) }
        #expect(FaultInjection.attributes(of: .secureParameters) == nil)
    }

    @Test("S390PV_FAIL syntax: point:errno[:interval[:times[:probability]]], comma separated")
    func parse() throws {
        let parsed = try FaultInjection.parse("gmem_files:ENOSPC,pv_unpack_fault:enomem:2:1:50,pv_cpu_storage:12")
        #expect(parsed.map(\.0) == [.guestMemfdFiles, .unpackFault, .cpuStorage])
        #expect(parsed[0].1 == FaultAttributes(errno: 28))
        #expect(parsed[1].1 == FaultAttributes(errno: 12, interval: 2, times: 1, probability: 50))
        #expect(parsed[2].1 == FaultAttributes(errno: 12))
        for bad in ["nowhere:ENOMEM", "gmem_files", "gmem_files:EWHAT", "gmem_files:ENOMEM:x", "gmem_files:ENOMEM:1:1:1:1"] {
            #expect(throws: FaultInjectionError.self, "\(bad)") { _ = try FaultInjection.parse(bad) }
        }
        #expect(FaultInjection.errnoName(28) == "ENOSPC")
        #expect(FaultInjection.errnoNumber("ENOMEM") == 12)
        #expect(FaultInjection.errnoNumber("nonsense") == nil)
    }
}
