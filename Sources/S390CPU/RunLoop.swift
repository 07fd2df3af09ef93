// The interpreter loop: fetch through a cached page pointer, decode through the 64K tables,
// dispatch through the generated switch. Interruptions are checked once per block and whenever
// an instruction may have changed enablement (`endBlock`).

/// Why `CPU.run` returned to its host (the SIE analogue's interception).
public enum CPUExit: Sendable, Equatable {
    /// An instruction the host implements (SIE intercept code 4): IPA = bytes 0-1, IPB = bytes 2-5.
    /// The PSW already points past it; the host completes it (CC, registers, storage).
    case instruction(ipa: UInt16, ipb: UInt32, length: Int)
    /// The PSW is in the wait state with nothing deliverable.
    case wait
    /// STSI 3.2.2 completed at logical `address` and the host wants to amend it.
    case systemInformation(address: UInt64)
    /// A SIGP stop order is pending for this CPU.
    case stopRequested
    /// `maxInstructions` were executed.
    case instructionLimit
    /// The host asked the CPU to return (`PendingInterruptions.postKick`).
    case kicked
    /// The CPU cannot continue (e.g. the lowcore lies outside storage, or an interruption loaded
    /// an invalid new PSW): the machine check-stops it, as hardware would.
    case checkStop(String)
}

extension CPU {
    /// Runs until an exit condition, executing at most `maxInstructions` instructions.
    public func run(maxInstructions: Int) -> CPUExit {
        var remaining = maxInstructions
        while true {
            if _slowPath(interruptions.needsAttention() || floating.servicePending || timersNeedAttention) {
                interruptions.clearAttention()
                if interruptions.takeKick() { return .kicked }
                if interruptions.stopPending { return .stopRequested }
                do {
                    _ = try deliverPendingInterruption()
                } catch {
                    return .checkStop("lowcore at prefix 0x\(String(prefix, radix: 16)) is outside storage")
                }
                // An invalid PSW (loaded by LPSW(E), SSM, STOSM or an interruption) is an early
                // specification exception: ILC 0, the invalid PSW is the program-old PSW.
                if _slowPath(!psw.isValid) {
                    if let exit = recognize(.specification, ilc: 0, instructionAddress: pswAddress) { return exit }
                    continue
                }
            }
            if _slowPath(pswMask & PSW.wait != 0) { return .wait }
            if remaining <= 0 { return .instructionLimit }
            let epoch = translationEpoch.current
            if _slowPath(epoch != seenTranslationEpoch) {
                seenTranslationEpoch = epoch
                invalidateTranslations()
            }
            let budget = min(remaining, 8192)
            let (executed, exit) = runBlock(budget)
            remaining -= executed
            instructionCount &+= UInt64(executed)
            if let exit { return exit }
        }
    }

    /// Executes up to `budget` instructions; stops early when `endBlock` is raised.
    private func runBlock(_ budget: Int) -> (Int, CPUExit?) {
        let tables = model.decodeTables
        var executed = 0
        endBlock = false
        while executed < budget && !endBlock {
            let instructionAddress = pswAddress
            let offset = instructionAddress &- fetchPage
            let raw: UInt64
            if _fastPath(offset <= 0xFF8 && offset & 1 == 0) {
                raw = UInt64(bigEndian: (fetchHost + Int(offset)).loadUnaligned(as: UInt64.self))
            } else {
                do {
                    raw = try fetchSlow(instructionAddress)
                } catch {
                    guard case .program(let code) = error else { return (executed, .checkStop("fetch")) }
                    return (executed, recognize(code, ilc: 0, instructionAddress: instructionAddress))
                }
            }
            let length = (0x6442 as UInt64) >> ((raw >> 62) << 2) & 0xF
            currentInstructionAddress = instructionAddress
            pswAddress = (instructionAddress &+ length) & addressMask
            do {
                try dispatch(tables.lookup(raw), raw)
            } catch {
                executed += 1
                switch error {
                case .program(let code):
                    return (executed, recognize(code, ilc: Int(length), instructionAddress: instructionAddress))
                case .intercept(.instruction(let interceptRaw)):
                    return (executed, .instruction(ipa: UInt16(truncatingIfNeeded: interceptRaw >> 48),
                                                   ipb: UInt32(truncatingIfNeeded: interceptRaw >> 16),
                                                   length: Int(length)))
                case .intercept(.wait):
                    return (executed, .wait)
                case .intercept(.systemInformation(let address)):
                    return (executed, .systemInformation(address: address))
                }
            }
            executed += 1
        }
        return (executed, nil)
    }

    /// Delivers a program interruption found by the loop; a failure to deliver check-stops.
    private func recognize(_ code: ProgramInterruptionCode, ilc: Int, instructionAddress: UInt64) -> CPUExit? {
        do {
            try deliverProgramInterruption(code, ilc: ilc, instructionAddress: instructionAddress)
        } catch {
            return .checkStop("program interruption \(code) with the lowcore outside storage")
        }
        // A program-new PSW that is itself invalid would interrupt forever (kvm-unit-tests
        // panic-loop-pgm): report it as the crash it is.
        if !psw.isValid { return .checkStop("program interruption \(code) loaded an invalid program-new PSW \(psw.hexDescription)") }
        return nil
    }

    /// Fetches across a page end, from an odd address, or after the cached page changed;
    /// refreshes the fetch cache.
    private func fetchSlow(_ address: UInt64) throws(CPUException) -> UInt64 {
        if address & 1 != 0 { throw .program(.specification) }
        let first = try hostPointer(address, .instruction).load(as: UInt8.self)
        let length = UInt64(InstructionSet.length(firstByte: first))
        var raw = UInt64(first) << 56
        for index in 1..<length {
            raw |= UInt64(try hostPointer((address &+ index) & addressMask, .instruction).load(as: UInt8.self)) << (56 - 8 * index)
        }
        let page = address & ~0xFFF
        fetchHost = try hostPointer(page, .instruction)
        fetchPage = page
        return raw
    }
}

extension CPU.PSW {
    public var hexDescription: String {
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return "\(hex(mask)) \(hex(address))"
    }
}
