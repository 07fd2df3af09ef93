// `s390pv run` options for the guest clock: the VM's clock namespace (issue 6).
import ArgumentParser
import Foundation
import VMM

/// A signed duration: [+|-]NUMBER[s|m|h|d], NUMBER an integer or a decimal with up to 9
/// fractional digits; no unit means seconds.
struct ClockOffset: ExpressibleByArgument, Equatable {
    var seconds: Int64
    var nanoseconds: Int64   // 0..<1e9; the value is seconds + nanoseconds / 1e9

    init(seconds: Int64, nanoseconds: Int64 = 0) { self.seconds = seconds; self.nanoseconds = nanoseconds }

    init?(argument: String) {
        var text = Substring(argument.trimmingCharacters(in: .whitespaces))
        var negative = false
        if let first = text.first, first == "+" || first == "-" { negative = first == "-"; text = text.dropFirst() }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var scale: Int64 = 1
        if let last = text.last, let unit = units[last] { scale = unit; text = text.dropLast() }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCII), let integer = Int64(whole) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            fraction = Int64(digits + String(repeating: "0", count: 9 - digits.count))!
        }
        // Total nanoseconds as a wide integer, then split (floor) into seconds and nanoseconds.
        var total = (Int128(integer) * 1_000_000_000 + Int128(fraction)) * Int128(scale)
        if negative { total = -total }
        var (quotient, remainder) = total.quotientAndRemainder(dividingBy: 1_000_000_000)
        if remainder < 0 { quotient -= 1; remainder += 1_000_000_000 }
        guard let seconds = Int64(exactly: quotient) else { return nil }
        self.init(seconds: seconds, nanoseconds: Int64(remainder))
    }

    /// Seconds, rounded toward minus infinity (for the host time namespace, which takes whole
    /// seconds here).
    var wholeSeconds: Int64 { seconds }
}

/// A point in time: Unix seconds (optionally with a fraction, or prefixed with @) or ISO 8601
/// (2030-01-01, 2030-01-01T12:00:00Z, 2030-01-01T12:00:00.5+02:00).
struct ClockEpoch: ExpressibleByArgument, Equatable {
    var unixSeconds: Int64
    var nanoseconds: Int64

    init?(argument: String) {
        let text = argument.hasPrefix("@") ? String(argument.dropFirst()) : argument
        if text.first.map({ $0.isNumber || $0 == "-" || $0 == "+" }) == true, !text.contains(":"), text.filter({ $0 == "-" }).count <= 1,
           let offset = ClockOffset(argument: text), !text.hasSuffix("m"), !text.hasSuffix("h"), !text.hasSuffix("d") {
            unixSeconds = offset.seconds
            nanoseconds = offset.nanoseconds
            return
        }
        let formatter = ISO8601DateFormatter()
        var candidates = [text]
        if !text.contains("T") { candidates.append(text + "T00:00:00Z") }
        for candidate in candidates {
            for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
                formatter.formatOptions = options
                if let date = formatter.date(from: candidate) {
                    let interval = date.timeIntervalSince1970
                    let seconds = interval.rounded(.down)
                    unixSeconds = Int64(seconds)
                    nanoseconds = Int64(((interval - seconds) * 1e9).rounded())
                    if nanoseconds >= 1_000_000_000 { unixSeconds += 1; nanoseconds -= 1_000_000_000 }
                    return
                }
            }
        }
        return nil
    }
}

struct ClockOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Guest TOD = host TOD + this offset: [+|-]NUMBER[s|m|h|d], e.g. +3600s, -1.5h. Fixed before the guest first runs and kept across reboots.",
                               valueName: "offset"))
    var clockOffset: ClockOffset?
    @Option(help: ArgumentHelp("The guest TOD starts at this time and runs on: Unix seconds (@1700000000) or ISO 8601 (2030-01-01T00:00:00Z). Must lie in 1900-01-01 to 2042-09-17.",
                               valueName: "time"))
    var clockEpoch: ClockEpoch?
    @Flag(help: "Also run the VM process in a Linux time namespace whose CLOCK_MONOTONIC and CLOCK_BOOTTIME carry the offset (needs CAP_SYS_ADMIN; one log line says whether it was used).")
    var hostTimeNamespace = false

    func validate() throws {
        if clockOffset != nil && clockEpoch != nil { throw ValidationError("--clock-offset and --clock-epoch exclude each other") }
    }

    /// The guest clock setting for the machine. With --host-time-namespace, and always in a
    /// detached VM process (issue 6), the process enters a time namespace now (call before
    /// threads start) and logs one line saying whether it could.
    func apply(to configuration: inout MachineConfiguration) {
        if let clockOffset {
            configuration.guestClock = .offset(seconds: clockOffset.seconds, nanoseconds: clockOffset.nanoseconds)
        } else if let clockEpoch {
            configuration.guestClock = .epoch(unixSeconds: clockEpoch.unixSeconds, nanoseconds: clockEpoch.nanoseconds)
        }
        if hostTimeNamespace || DetachOptions.isDetachedVMProcess {
            let line: String
            switch enterTimeNamespace(offsetSeconds: hostOffsetSeconds) {
            case .success(let entry): line = entry.logLine
            case .failure(let unavailable): line = unavailable.logLine
            }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// The whole-second offset the guest clock has from the host wall clock.
    var hostOffsetSeconds: Int64 {
        if let clockOffset { return clockOffset.wholeSeconds }
        if let clockEpoch { return clockEpoch.unixSeconds - Int64(Date().timeIntervalSince1970.rounded(.down)) }
        return 0
    }
}
