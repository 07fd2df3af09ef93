// Instructions the machine implements outside the CPU: they leave the run loop as a SIE
// instruction intercept (code 4) with the instruction's IPA/IPB, and the host completes them.

extension CPU {
    @inline(__always) func servc(_ i: RRE) throws(CPUException) { throw .intercept(.instruction(raw: i.raw)) }
    @inline(__always) func sigp(_ i: RS) throws(CPUException) { throw .intercept(.instruction(raw: i.raw)) }
    @inline(__always) func diag(_ i: RS) throws(CPUException) { throw .intercept(.instruction(raw: i.raw)) }
    @inline(__always) func uvc(_ i: RRF) throws(CPUException) { throw .intercept(.instruction(raw: i.raw)) }
}
