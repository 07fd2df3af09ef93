import Foundation

/// The guest console: VT220 bytes go to an output (stdout by default) as they arrive, and the
/// first `EXIT: STATUS=<n>` line (the kvm-unit-tests exit protocol) is remembered.
public final class Console: @unchecked Sendable {
    private let output: FileHandle
    private let lock = NSLock()
    private var currentLine: [UInt8] = []
    private var captured: [UInt8] = []
    private let capture: Bool
    public private(set) var exitStatus: Int?

    public init(output: FileHandle = .standardOutput, capture: Bool = false) {
        self.output = output
        self.capture = capture
    }

    func write(_ bytes: ArraySlice<UInt8>) {
        lock.lock(); defer { lock.unlock() }
        output.write(Data(bytes))
        if capture { captured.append(contentsOf: bytes) }
        for byte in bytes {
            if byte == 0x0A {
                noteLine()
                currentLine.removeAll(keepingCapacity: true)
            } else {
                currentLine.append(byte)
            }
        }
    }

    private func noteLine() {
        guard exitStatus == nil else { return }
        let line = String(decoding: currentLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let prefix = "EXIT: STATUS="
        if line.hasPrefix(prefix), let status = Int(line.dropFirst(prefix.count).prefix(while: \.isNumber)) {
            exitStatus = status
        }
    }

    /// Everything written so far (only when created with `capture: true`).
    public var text: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: captured, as: UTF8.self)
    }
}
