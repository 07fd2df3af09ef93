// Helpers shared by the harness commands (fuzz, faults): resource figures for leak checks, a
// joinable thread, and the seeded PRNG.
import Foundation

// MARK: - Figures

struct FuzzResources {
    var fds: Int, threads: Int, rssKiB: Int
    /// Guest-memory mappings in /proc/self/maps: every mapping of a memfd (guest RAM, detached
    /// memory, kvm_run pages) and every mapping of at least 1 GiB (a VM's reserved address
    /// space, a detached memory's view). Other mappings come and go with malloc arenas and
    /// thread stacks, which are no leak of the model.
    var mappings: Int = 0

    /// The figures once the kernel model's asynchronous releases (a VM's teardown may finish on
    /// another thread) have had up to 3 s to complete: what stays above `baseline` is leaked.
    static func settled(comparedWith baseline: FuzzResources) -> FuzzResources {
        var current = now()
        for _ in 0..<60 where current.fds > baseline.fds || current.threads > baseline.threads {
            usleep(50_000)
            current = now()
        }
        return current
    }

    static func now() -> FuzzResources {
        func count(_ directory: String) -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).count }
        var rss = 0
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) {
            rss = Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        // contentsOfDirectory's own descriptor is closed again before it returns.
        let maps = ((try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? "").split(separator: "\n").filter { line in
            if line.contains("/memfd:") { return true }
            let bounds = line.prefix { $0 != " " }.split(separator: "-").compactMap { UInt64($0, radix: 16) }
            return bounds.count == 2 && bounds[1] - bounds[0] >= 1 << 30
        }.count
        return FuzzResources(fds: count("/proc/self/fd"), threads: count("/proc/self/task"), rssKiB: rss, mappings: maps)
    }
}

// MARK: - Threads

private final class FuzzThreadBody { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }

/// A joinable thread (Foundation's cannot be joined, and the thread count is a figure).
func fuzzSpawn(_ body: @escaping () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(FuzzThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { argument in
        Unmanaged<FuzzThreadBody>.fromOpaque(argument!).takeRetainedValue().body()
        return nil
    }, box)
    precondition(status == 0, "pthread_create: \(status)")
    return thread
}

// MARK: - PRNG

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same sequence everywhere.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
