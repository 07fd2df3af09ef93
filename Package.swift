// swift-tools-version: 6.1
// s390pv: an emulator for IBM Z protected (Secure Execution) guests.
// Layers, bottom up: S390CPU, RestrictedMemory -> KernelModel (KVM-shaped) -> VMM -> s390pv (CLI).
import PackageDescription

/// The interpreter's hot loop must not pay for dynamic exclusivity checks (see
/// ../shared/spec/interpreter-dispatch.md, lesson 1); all shared CPU state is guarded by design.
/// Release builds also drop the remaining overflow and precondition checks there: guest
/// arithmetic uses wrapping operators explicitly, and every guest-controlled index is validated.
let hotPathSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "s390pv",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "s390pv", targets: ["s390pv"]),
        // The kernel model for C programs: link against it, or LD_PRELOAD the shim.
        .library(name: "s390pvkvm", type: .dynamic, targets: ["KernelABI"]),
        .library(name: "s390pvpreload", type: .dynamic, targets: ["CPreload", "KernelABI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.0.0"),
    ],
    targets: [
        // C shims: the syscalls Swift does not expose, libelf, capstone.
        .target(name: "CSyscalls"),
        // Linux KVM uapi for s390 (numbers and struct layouts), and the model's fd ownership table.
        .target(name: "CKVM"),
        .systemLibrary(name: "CLibelf", pkgConfig: "libelf", providers: [.apt(["libelf-dev"])]),
        .systemLibrary(name: "CCapstone", pkgConfig: "capstone", providers: [.apt(["libcapstone-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Generates the decoder and dispatch switch from Sources/S390CPU/Instructions.table.
        .executableTarget(name: "InstructionTableGenerator"),
        .plugin(name: "GenerateInstructionDispatch", capability: .buildTool(),
                dependencies: ["InstructionTableGenerator"]),

        // ASCII to EBCDIC for the identity strings machines report.
        .target(name: "EBCDIC"),
        // z/Architecture interpreter: one vCPU runs until an intercept (the SIE analogue).
        .target(name: "S390CPU",
                dependencies: ["EBCDIC"],
                exclude: ["Instructions.table"],
                swiftSettings: hotPathSettings,
                plugins: ["GenerateInstructionDispatch"]),
        // Named failure points with lib/fault-inject.c's attributes (S390PV_FAIL): the allocations
        // of restricted memory and the kernel model that can fail in Linux.
        .target(name: "FaultInjection"),
        // Guest RAM backing: the only code that maps guest memory.
        .target(name: "RestrictedMemory", dependencies: ["CSyscalls", "FaultInjection"]),
        // KVM-shaped kernel model: VM and vCPU objects, KVM_RUN, interrupts, SIGP, memory ops.
        .target(name: "KernelModel",
                dependencies: ["S390CPU", "RestrictedMemory", "FaultInjection", "Ultravisor", "SecureExecution", "CSyscalls",
                               .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: hotPathSettings),
        // The ioctl surface: fds, Linux ioctl numbers and uapi layouts over the kernel model, and
        // its C ABI.
        .target(name: "KernelABI", dependencies: ["KernelModel", "RestrictedMemory", "S390CPU", "CKVM", "CSyscalls"]),
        // Typed wrappers over the ioctl surface: everything the VMM knows of the kernel model.
        .target(name: "KVMIoctls", dependencies: ["KernelABI", "CKVM", "CSyscalls"]),
        // LD_PRELOAD shim routing /dev/kvm and the model's descriptors of a C program to KernelABI.
        .target(name: "CPreload", dependencies: ["CKVM"]),
        // Capstone-backed s390x disassembly (trace, `s390pv disasm`, decoder cross-check).
        .target(name: "Disassembler", dependencies: ["CCapstone", "S390CPU"]),
        // QEMU-shaped machine: loader, SCLP console, DIAG 308, SIGP in userspace, exit protocol.
        // It knows the kernel model only through the ioctl surface (KVMIoctls); the module graph
        // keeps it away from KernelModel, S390CPU and RestrictedMemory.
        .target(name: "VMM", dependencies: ["KVMIoctls", "CLibelf", "Disassembler", "EBCDIC"]),
        .executableTarget(name: "s390pv",
                          dependencies: ["VMM", "Disassembler", "KernelABI", "CKVM", "CSyscalls", "KernelModel", "RestrictedMemory", "FaultInjection",
                                         "SecureExecution", "KVMIoctls",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Secure Execution header model and crypto (spec se-image-format §1, §2): key slots, build, open.
        .target(name: "SecureExecution",
                dependencies: ["COpenSSL", .product(name: "Crypto", package: "swift-crypto"),
                               .product(name: "X509", package: "swift-certificates")]),

        // The Ultravisor model (spec kvm-pv-ioctl §5, se-image-format §8, §9): secure configurations
        // and CPUs, page states, host and guest UV calls. The kernel model is its only host caller.
        .target(name: "Ultravisor", dependencies: ["SecureExecution"]),

        .testTarget(name: "S390CPUTests", dependencies: ["S390CPU", "Disassembler", "KernelModel"]),
        .testTarget(name: "VMMTests", dependencies: ["VMM", "KernelModel"]),
        .testTarget(name: "KernelModelTests", dependencies: ["KernelModel", "S390CPU", "RestrictedMemory", "SecureExecution", "Ultravisor", "FaultInjection"]),
        .testTarget(name: "RestrictedMemoryTests", dependencies: ["RestrictedMemory", "FaultInjection"]),
        .testTarget(name: "FaultInjectionTests", dependencies: ["FaultInjection"]),
        .testTarget(name: "SecureExecutionTests", dependencies: ["SecureExecution"]),
        .testTarget(name: "UltravisorTests", dependencies: ["Ultravisor", "SecureExecution"]),
    ]
)
