/*
 * s390pv_kvm.h: the Linux KVM userspace API as it looks on s390x, for an x86-64 (or other
 * 64-bit little-endian) host.
 *
 * C programs written for s390 KVM include this header where they would include <linux/kvm.h>
 * on an s390x machine. They see the s390 layouts of struct kvm_run, kvm_sync_regs, kvm_regs,
 * kvm_sregs, kvm_fpu and the kvm_s390_* structures, and the real Linux ioctl numbers. Swift
 * imports the same header through the CKVM module. Swift does not import function-like macros
 * such as _IOWR(...), so every ioctl is also available as a plain constant named S390PV_<ioctl>
 * (static const unsigned long); a _Static_assert checks that the Linux macro equals it.
 *
 * Ground truth is Linux mainline: include/uapi/linux/kvm.h, arch/s390/include/uapi/asm/kvm.h
 * (since 6.9 the s390-only structs live there) and include/uapi/asm-generic/ioctl.h, together with
 * ../shared/spec/kvm-pv-ioctl.md §1 and ../shared/spec/memory-clock-pidfd.md §1.3. The header is
 * an interface definition written for s390pv and limited to what s390 KVM userspace needs; x86,
 * arm, ppc, mips, riscv and loongarch parts are left out.
 *
 * Byte order: the structs hold host-endian (here little-endian) values. Layouts (sizes, offsets)
 * are the s390x ones and are checked below. The two bit-field members (kvm_sync_regs.bpbc and
 * kvm_s390_vm_cpu_uv_feat) are declared so that the numeric value of the containing byte / u64
 * is the one s390x sees (see the comments there).
 */
#ifndef S390PV_KVM_H
#define S390PV_KVM_H

#if defined(__LINUX_KVM_H) || defined(__LINUX_KVM_S390_H) || defined(_ASM_X86_KVM_H) || \
    defined(__ARM_KVM_H__)
#error "the host's <linux/kvm.h> or <asm/kvm.h> was included before s390pv_kvm.h; include only one"
#endif
/* Claim the include guards of Linux's <linux/kvm.h> and of the s390, x86 and arm64 <asm/kvm.h>,
 * so that a later #include of the host's KVM headers (host layouts) turns into a no-op instead
 * of redefining every struct. */
#define __LINUX_KVM_H
#define __LINUX_KVM_S390_H
#define _ASM_X86_KVM_H
#define __ARM_KVM_H__

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define S390PV_STATIC_ASSERT(condition, message) static_assert(condition, message)
extern "C" {
#else
#define S390PV_STATIC_ASSERT(condition, message) _Static_assert(condition, message)
#endif

/* ============================================================================================
 * Fixed-width types, spelled as in <asm-generic/int-ll64.h> (which s390x and x86-64 both use):
 * __u64 is unsigned long long, so `__u64 *p = &run->psw_mask;` compiles as on s390x. C11 and C++
 * allow a typedef to be repeated with the same type, so this coexists with <linux/types.h>.
 * ========================================================================================== */
typedef signed char __s8;
typedef unsigned char __u8;
typedef signed short __s16;
typedef unsigned short __u16;
typedef signed int __s32;
typedef unsigned int __u32;
typedef signed long long __s64;
typedef unsigned long long __u64;

S390PV_STATIC_ASSERT(sizeof(__u64) == 8 && sizeof(void *) == 8 && sizeof(unsigned long) == 8,
                     "s390pv_kvm.h needs an LP64 host (as s390x is)");
S390PV_STATIC_ASSERT(__alignof__(__u64) == 8, "s390x aligns 64-bit members to 8 bytes");

/* ============================================================================================
 * ioctl encoding (include/uapi/asm-generic/ioctl.h; s390x and x86-64 both use it):
 *     value = dir << 30 | size << 16 | type << 8 | nr,  dir: NONE 0, WRITE 1, READ 2.
 * The KVM_* macros below use the private S390PV_IO* encoders, so they are right even on a host
 * whose <sys/ioctl.h> defines _IO/_IOR/_IOW/_IOWR with a different encoding (macOS/BSD). On Linux
 * the generic _IOC/_IO* names are provided as well, token for token as in asm-generic/ioctl.h,
 * so that including <sys/ioctl.h> before or after this header does not clash.
 * ========================================================================================== */
#define S390PV_IOC_NONE 0U
#define S390PV_IOC_WRITE 1U
#define S390PV_IOC_READ 2U
#define S390PV_IOC(dir, type, nr, size) \
    (((dir) << 30) | ((type) << 8) | ((nr) << 0) | ((size) << 16))
#define S390PV_IO(type, nr) S390PV_IOC(S390PV_IOC_NONE, (type), (nr), 0)
#define S390PV_IOR(type, nr, argtype) S390PV_IOC(S390PV_IOC_READ, (type), (nr), sizeof(argtype))
#define S390PV_IOW(type, nr, argtype) S390PV_IOC(S390PV_IOC_WRITE, (type), (nr), sizeof(argtype))
#define S390PV_IOWR(type, nr, argtype) \
    S390PV_IOC(S390PV_IOC_READ | S390PV_IOC_WRITE, (type), (nr), sizeof(argtype))

#if defined(__linux__) && !defined(_IOC)
#define _IOC_NRBITS	8
#define _IOC_TYPEBITS	8
#ifndef _IOC_SIZEBITS
# define _IOC_SIZEBITS	14
#endif
#ifndef _IOC_DIRBITS
# define _IOC_DIRBITS	2
#endif
#define _IOC_NRMASK	((1 << _IOC_NRBITS)-1)
#define _IOC_TYPEMASK	((1 << _IOC_TYPEBITS)-1)
#define _IOC_SIZEMASK	((1 << _IOC_SIZEBITS)-1)
#define _IOC_DIRMASK	((1 << _IOC_DIRBITS)-1)
#define _IOC_NRSHIFT	0
#define _IOC_TYPESHIFT	(_IOC_NRSHIFT+_IOC_NRBITS)
#define _IOC_SIZESHIFT	(_IOC_TYPESHIFT+_IOC_TYPEBITS)
#define _IOC_DIRSHIFT	(_IOC_SIZESHIFT+_IOC_SIZEBITS)
#ifndef _IOC_NONE
# define _IOC_NONE	0U
#endif
#ifndef _IOC_WRITE
# define _IOC_WRITE	1U
#endif
#ifndef _IOC_READ
# define _IOC_READ	2U
#endif
#define _IOC(dir,type,nr,size) \
	(((dir)  << _IOC_DIRSHIFT) | \
	 ((type) << _IOC_TYPESHIFT) | \
	 ((nr)   << _IOC_NRSHIFT) | \
	 ((size) << _IOC_SIZESHIFT))
#define _IOC_TYPECHECK(t) (sizeof(t))
#define _IO(type,nr)		_IOC(_IOC_NONE,(type),(nr),0)
#define _IOR(type,nr,size)	_IOC(_IOC_READ,(type),(nr),(_IOC_TYPECHECK(size)))
#define _IOW(type,nr,size)	_IOC(_IOC_WRITE,(type),(nr),(_IOC_TYPECHECK(size)))
#define _IOWR(type,nr,size)	_IOC(_IOC_READ|_IOC_WRITE,(type),(nr),(_IOC_TYPECHECK(size)))
#define _IOC_DIR(nr)		(((nr) >> _IOC_DIRSHIFT) & _IOC_DIRMASK)
#define _IOC_TYPE(nr)		(((nr) >> _IOC_TYPESHIFT) & _IOC_TYPEMASK)
#define _IOC_NR(nr)		(((nr) >> _IOC_NRSHIFT) & _IOC_NRMASK)
#define _IOC_SIZE(nr)		(((nr) >> _IOC_SIZESHIFT) & _IOC_SIZEMASK)
#endif

/* Decoders that work on every host (and a Swift-visible mirror of the field layout). */
#define S390PV_IOC_DIR(nr) (((nr) >> 30) & 0x3U)
#define S390PV_IOC_SIZE(nr) (((nr) >> 16) & 0x3FFFU)
#define S390PV_IOC_TYPE(nr) (((nr) >> 8) & 0xFFU)
#define S390PV_IOC_NR(nr) ((nr) & 0xFFU)

#define KVMIO 0xAE
#define KVM_API_VERSION 12

/* s390 marker macros from arch/s390/include/uapi/asm/kvm.h and include/uapi/linux/kvm.h. */
#define __KVM_S390
#define __KVM_HAVE_GUEST_DEBUG

/* ============================================================================================
 * Exit reasons (kvm_run.exit_reason). The whole generic list, so that any value can be named.
 * ========================================================================================== */
#define KVM_EXIT_UNKNOWN          0
#define KVM_EXIT_EXCEPTION        1
#define KVM_EXIT_IO               2
#define KVM_EXIT_HYPERCALL        3
#define KVM_EXIT_DEBUG            4
#define KVM_EXIT_HLT              5
#define KVM_EXIT_MMIO             6
#define KVM_EXIT_IRQ_WINDOW_OPEN  7
#define KVM_EXIT_SHUTDOWN         8
#define KVM_EXIT_FAIL_ENTRY       9
#define KVM_EXIT_INTR             10
#define KVM_EXIT_SET_TPR          11
#define KVM_EXIT_TPR_ACCESS       12
#define KVM_EXIT_S390_SIEIC       13
#define KVM_EXIT_S390_RESET       14
#define KVM_EXIT_DCR              15 /* deprecated */
#define KVM_EXIT_NMI              16
#define KVM_EXIT_INTERNAL_ERROR   17
#define KVM_EXIT_OSI              18
#define KVM_EXIT_PAPR_HCALL       19
#define KVM_EXIT_S390_UCONTROL    20
#define KVM_EXIT_WATCHDOG         21
#define KVM_EXIT_S390_TSCH        22
#define KVM_EXIT_EPR              23
#define KVM_EXIT_SYSTEM_EVENT     24
#define KVM_EXIT_S390_STSI        25
#define KVM_EXIT_IOAPIC_EOI       26
#define KVM_EXIT_HYPERV           27
#define KVM_EXIT_ARM_NISV         28
#define KVM_EXIT_X86_RDMSR        29
#define KVM_EXIT_X86_WRMSR        30
#define KVM_EXIT_DIRTY_RING_FULL  31
#define KVM_EXIT_AP_RESET_HOLD    32
#define KVM_EXIT_X86_BUS_LOCK     33
#define KVM_EXIT_XEN              34
#define KVM_EXIT_RISCV_SBI        35
#define KVM_EXIT_RISCV_CSR        36
#define KVM_EXIT_NOTIFY           37
#define KVM_EXIT_LOONGARCH_IOCSR  38
#define KVM_EXIT_MEMORY_FAULT     39
#define KVM_EXIT_TDX              40

/* kvm_run.internal.suberror for KVM_EXIT_INTERNAL_ERROR */
#define KVM_INTERNAL_ERROR_EMULATION              1
#define KVM_INTERNAL_ERROR_SIMUL_EX               2
#define KVM_INTERNAL_ERROR_DELIVERY_EV            3
#define KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON 4

/* kvm_run.system_event.type for KVM_EXIT_SYSTEM_EVENT */
#define KVM_SYSTEM_EVENT_SHUTDOWN 1
#define KVM_SYSTEM_EVENT_RESET    2
#define KVM_SYSTEM_EVENT_CRASH    3
#define KVM_SYSTEM_EVENT_WAKEUP   4
#define KVM_SYSTEM_EVENT_SUSPEND  5

/* kvm_run.memory_fault.flags for KVM_EXIT_MEMORY_FAULT */
#define KVM_MEMORY_EXIT_FLAG_PRIVATE (1ULL << 3)

/* kvm_run.s390_reset_flags for KVM_EXIT_S390_RESET */
#define KVM_S390_RESET_POR       1
#define KVM_S390_RESET_CLEAR     2
#define KVM_S390_RESET_SUBSYSTEM 4
#define KVM_S390_RESET_CPU_INIT  8
#define KVM_S390_RESET_IPL       16

/* ============================================================================================
 * s390 register state (arch/s390/include/uapi/asm/kvm.h)
 * ========================================================================================== */

/* for KVM_GET_REGS and KVM_SET_REGS */
struct kvm_regs {
	/* general purpose regs for s390 */
	__u64 gprs[16];
};

/* for KVM_GET_SREGS and KVM_SET_SREGS */
struct kvm_sregs {
	__u32 acrs[16];
	__u64 crs[16];
};

/* for KVM_GET_FPU and KVM_SET_FPU (4 bytes of padding follow fpc) */
struct kvm_fpu {
	__u32 fpc;
	__u64 fprs[16];
};

/* for KVM_S390_SET_INITIAL_PSW */
struct kvm_s390_psw {
	__u64 mask;
	__u64 addr;
};

/* Guest debugging (s390 arch part). */
#define KVM_GUESTDBG_ENABLE     0x00000001
#define KVM_GUESTDBG_SINGLESTEP 0x00000002
#define KVM_GUESTDBG_USE_HW_BP  0x00010000

#define KVM_HW_BP       1
#define KVM_HW_WP_WRITE 2
#define KVM_SINGLESTEP  4

struct kvm_debug_exit_arch {
	__u64 addr;
	__u8 type;
	__u8 pad[7]; /* Should be set to 0 */
};

struct kvm_hw_breakpoint {
	__u64 addr;
	__u64 phys_addr;
	__u64 len;
	__u8 type;
	__u8 pad[7]; /* Should be set to 0 */
};

/* for KVM_SET_GUEST_DEBUG */
struct kvm_guest_debug_arch {
	__u32 nr_hw_bp;
	__u32 pad; /* Should be set to 0 */
	struct kvm_hw_breakpoint *hw_bp;
};

struct kvm_guest_debug {
	__u32 control;
	__u32 pad;
	struct kvm_guest_debug_arch arch;
};

/* for KVM_SYNC_PFAULT and KVM_REG_S390_PFTOKEN */
#define KVM_S390_PFAULT_TOKEN_INVALID 0xffffffffffffffffULL

/* kvm_run.kvm_valid_regs / kvm_dirty_regs bits (s390) */
#define KVM_SYNC_PREFIX  (1UL << 0)
#define KVM_SYNC_GPRS    (1UL << 1)
#define KVM_SYNC_ACRS    (1UL << 2)
#define KVM_SYNC_CRS     (1UL << 3)
#define KVM_SYNC_ARCH0   (1UL << 4)
#define KVM_SYNC_PFAULT  (1UL << 5)
#define KVM_SYNC_VRS     (1UL << 6)
#define KVM_SYNC_RICCB   (1UL << 7)
#define KVM_SYNC_FPRS    (1UL << 8)
#define KVM_SYNC_GSCB    (1UL << 9)
#define KVM_SYNC_BPBC    (1UL << 10)
#define KVM_SYNC_ETOKEN  (1UL << 11)
#define KVM_SYNC_DIAG318 (1UL << 12)

#define KVM_SYNC_S390_VALID_FIELDS \
	(KVM_SYNC_PREFIX | KVM_SYNC_GPRS | KVM_SYNC_ACRS | KVM_SYNC_CRS | \
	 KVM_SYNC_ARCH0 | KVM_SYNC_PFAULT | KVM_SYNC_VRS | KVM_SYNC_RICCB | \
	 KVM_SYNC_FPRS | KVM_SYNC_GSCB | KVM_SYNC_BPBC | KVM_SYNC_ETOKEN | \
	 KVM_SYNC_DIAG318)

/* length and alignment of the sdnx as a power of two */
#define SDNXC 8
#define SDNXL (1UL << SDNXC)

/* definition of registers in kvm_run (kvm_run.s.regs), 1984 bytes */
struct kvm_sync_regs {
	__u64 prefix;	/* prefix register */
	__u64 gprs[16];	/* general purpose registers */
	__u32 acrs[16];	/* access registers */
	__u64 crs[16];	/* control registers */
	__u64 todpr;	/* tod programmable register [ARCH0] */
	__u64 cputm;	/* cpu timer [ARCH0] */
	__u64 ckc;	/* clock comparator [ARCH0] */
	__u64 pp;	/* program parameter [ARCH0] */
	__u64 gbea;	/* guest breaking-event address [ARCH0] */
	__u64 pft;	/* pfault token [PFAULT] */
	__u64 pfs;	/* pfault select [PFAULT] */
	__u64 pfc;	/* pfault compare [PFAULT] */
	union {
		__u64 vrs[32][2];	/* vector registers (KVM_SYNC_VRS) */
		__u64 fprs[16];		/* fp registers (KVM_SYNC_FPRS) */
	};
	__u8  reserved[512];	/* for future vector expansion */
	__u32 fpc;		/* valid on KVM_SYNC_VRS or KVM_SYNC_FPRS */
	/* Linux declares `__u8 bpbc : 1; __u8 reserved2 : 7;`. s390x (big-endian) allocates
	 * bit-fields from the most significant bit, so bpbc is 0x80 of the byte at offset 1420.
	 * On a little-endian host the declaration order is reversed to keep it there. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	__u8 reserved2 : 7;
	__u8 bpbc : 1;		/* bp mode */
#else
	__u8 bpbc : 1;		/* bp mode */
	__u8 reserved2 : 7;
#endif
	__u8 padding1[51];	/* riccb needs to be 64byte aligned */
	__u8 riccb[64];		/* runtime instrumentation controls block */
	__u64 diag318;		/* diagnose 0x318 info */
	__u8 padding2[184];	/* sdnx needs to be 256byte aligned */
	union {
		__u8 sdnx[SDNXL];  /* state description annex */
		struct {
			__u64 reserved1[2];
			__u64 gscb[4];
			__u64 etoken;
			__u64 etoken_extension;
		};
	};
};

/* ============================================================================================
 * struct kvm_run (include/uapi/linux/kvm.h with __KVM_S390 defined), mmap'ed from the vCPU fd.
 * Only the exit-union members that s390 KVM produces (plus the generic ones) are declared; the
 * union is fixed at 256 bytes by `padding`, as in Linux.
 * ========================================================================================== */
#define SYNC_REGS_SIZE_BYTES 2048

struct kvm_run {
	/* in */
	__u8 request_interrupt_window;
	__u8 immediate_exit;
	__u8 padding1[6];

	/* out */
	__u32 exit_reason;
	__u8 ready_for_interrupt_injection;
	__u8 if_flag;
	__u16 flags;

	/* in (pre_kvm_run), out (post_kvm_run) */
	__u64 cr8;
	__u64 apic_base;

	/* the processor status word for s390 */
	__u64 psw_mask; /* psw upper half */
	__u64 psw_addr; /* psw lower half */

	union {
		/* KVM_EXIT_UNKNOWN */
		struct {
			__u64 hardware_exit_reason;
		} hw;
		/* KVM_EXIT_FAIL_ENTRY */
		struct {
			__u64 hardware_entry_failure_reason;
			__u32 cpu;
		} fail_entry;
		/* KVM_EXIT_EXCEPTION */
		struct {
			__u32 exception;
			__u32 error_code;
		} ex;
		/* KVM_EXIT_DEBUG */
		struct {
			struct kvm_debug_exit_arch arch;
		} debug;
		/* KVM_EXIT_S390_SIEIC */
		struct {
			__u8 icptcode;
			__u16 ipa;
			__u32 ipb;
		} s390_sieic;
		/* KVM_EXIT_S390_RESET */
		__u64 s390_reset_flags;
		/* KVM_EXIT_S390_UCONTROL */
		struct {
			__u64 trans_exc_code;
			__u32 pgm_code;
		} s390_ucontrol;
		/* KVM_EXIT_INTERNAL_ERROR */
		struct {
			__u32 suberror;
			/* Available with KVM_CAP_INTERNAL_ERROR_DATA: */
			__u32 ndata;
			__u64 data[16];
		} internal;
		/* KVM_EXIT_S390_TSCH */
		struct {
			__u16 subchannel_id;
			__u16 subchannel_nr;
			__u32 io_int_parm;
			__u32 io_int_word;
			__u32 ipb;
			__u8 dequeued;
		} s390_tsch;
		/* KVM_EXIT_SYSTEM_EVENT */
		struct {
			__u32 type;
			__u32 ndata;
			union {
				__u64 flags;
				__u64 data[16];
			};
		} system_event;
		/* KVM_EXIT_S390_STSI */
		struct {
			__u64 addr;
			__u8 ar;
			__u8 reserved;
			__u8 fc;
			__u8 sel1;
			__u16 sel2;
		} s390_stsi;
		/* KVM_EXIT_MEMORY_FAULT */
		struct {
			__u64 flags;
			__u64 gpa;
			__u64 size;
		} memory_fault;
		/* Fix the size of the union. */
		char padding[256];
	};

	/*
	 * shared registers between kvm and userspace.
	 * kvm_valid_regs specifies the register classes set by the host
	 * kvm_dirty_regs specified the register classes dirtied by userspace
	 */
	__u64 kvm_valid_regs;
	__u64 kvm_dirty_regs;
	union {
		struct kvm_sync_regs regs;
		char padding[SYNC_REGS_SIZE_BYTES];
	} s;
};

/* ============================================================================================
 * Memory slots, guest_memfd, memory attributes
 * ========================================================================================== */

/* for KVM_SET_USER_MEMORY_REGION */
struct kvm_userspace_memory_region {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size; /* bytes */
	__u64 userspace_addr; /* start of the userspace allocated memory */
};

/* for KVM_SET_USER_MEMORY_REGION2 */
struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};

/* kvm_userspace_memory_region{,2}.flags (bits 0-15 are visible to userspace) */
#define KVM_MEM_LOG_DIRTY_PAGES (1UL << 0)
#define KVM_MEM_READONLY        (1UL << 1)
#define KVM_MEM_GUEST_MEMFD     (1UL << 2)

/* for KVM_CREATE_GUEST_MEMFD */
struct kvm_create_guest_memfd {
	__u64 size;
	__u64 flags;
	__u64 reserved[6];
};

#define GUEST_MEMFD_FLAG_MMAP        (1ULL << 0)
#define GUEST_MEMFD_FLAG_INIT_SHARED (1ULL << 1)

/* for KVM_SET_MEMORY_ATTRIBUTES */
struct kvm_memory_attributes {
	__u64 address;
	__u64 size;
	__u64 attributes;
	__u64 flags;
};

#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3)

/* machine type bits, to be used as argument to KVM_CREATE_VM */
#define KVM_VM_S390_UCONTROL 1
#define KVM_S390_SIE_PAGE_OFFSET 1

/* ============================================================================================
 * vCPU state, capabilities, one-reg, devices
 * ========================================================================================== */

/* for KVM_GET_MP_STATE / KVM_SET_MP_STATE (not all states are valid on all architectures) */
#define KVM_MP_STATE_RUNNABLE      0
#define KVM_MP_STATE_UNINITIALIZED 1
#define KVM_MP_STATE_INIT_RECEIVED 2
#define KVM_MP_STATE_HALTED        3
#define KVM_MP_STATE_SIPI_RECEIVED 4
#define KVM_MP_STATE_STOPPED       5
#define KVM_MP_STATE_CHECK_STOP    6
#define KVM_MP_STATE_OPERATING     7
#define KVM_MP_STATE_LOAD          8
#define KVM_MP_STATE_AP_RESET_HOLD 9
#define KVM_MP_STATE_SUSPENDED     10

struct kvm_mp_state {
	__u32 mp_state;
};

/* for KVM_ENABLE_CAP */
struct kvm_enable_cap {
	/* in */
	__u32 cap;
	__u32 flags;
	__u64 args[4];
	__u8  pad[64];
};

/* for KVM_GET_ONE_REG / KVM_SET_ONE_REG */
struct kvm_one_reg {
	__u64 id;
	__u64 addr;
};

#define KVM_REG_ARCH_MASK  0xff00000000000000ULL
#define KVM_REG_GENERIC    0x0000000000000000ULL
#define KVM_REG_S390       0x5000000000000000ULL
#define KVM_REG_SIZE_SHIFT 52
#define KVM_REG_SIZE_MASK  0x00f0000000000000ULL
#define KVM_REG_SIZE(id) \
	(1U << (((id) & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT))
#define KVM_REG_SIZE_U8    0x0000000000000000ULL
#define KVM_REG_SIZE_U16   0x0010000000000000ULL
#define KVM_REG_SIZE_U32   0x0020000000000000ULL
#define KVM_REG_SIZE_U64   0x0030000000000000ULL
#define KVM_REG_SIZE_U128  0x0040000000000000ULL

#define KVM_REG_S390_TODPR      (KVM_REG_S390 | KVM_REG_SIZE_U32 | 0x1)
#define KVM_REG_S390_EPOCHDIFF  (KVM_REG_S390 | KVM_REG_SIZE_U64 | 0x2)
#define KVM_REG_S390_CPU_TIMER  (KVM_REG_S390 | KVM_REG_SIZE_U64 | 0x3)
#define KVM_REG_S390_CLOCK_COMP (KVM_REG_S390 | KVM_REG_SIZE_U64 | 0x4)
#define KVM_REG_S390_PFTOKEN    (KVM_REG_S390 | KVM_REG_SIZE_U64 | 0x5)
#define KVM_REG_S390_PFCOMPARE  (KVM_REG_S390 | KVM_REG_SIZE_U64 | 0x6)
#define KVM_REG_S390_PFSELECT   (KVM_REG_S390 | KVM_REG_SIZE_U64 | 0x7)
#define KVM_REG_S390_PP         (KVM_REG_S390 | KVM_REG_SIZE_U64 | 0x8)
#define KVM_REG_S390_GBEA       (KVM_REG_S390 | KVM_REG_SIZE_U64 | 0x9)

/* Device control API (KVM_CAP_DEVICE_CTRL); VM attributes use kvm_device_attr on the VM fd. */
#define KVM_CREATE_DEVICE_TEST 1

struct kvm_create_device {
	__u32 type;  /* in: KVM_DEV_TYPE_xxx */
	__u32 fd;    /* out: device handle */
	__u32 flags; /* in: KVM_CREATE_DEVICE_xxx */
};

struct kvm_device_attr {
	__u32 flags; /* no flags currently defined */
	__u32 group; /* device-defined */
	__u64 attr;  /* group-defined */
	__u64 addr;  /* userspace address of attr data */
};

#define KVM_DEV_TYPE_VFIO 4
#define KVM_DEV_TYPE_FLIC 6

/* s390 floating-interrupt controller (FLIC) device attribute groups */
#define KVM_DEV_FLIC_GET_ALL_IRQS     1
#define KVM_DEV_FLIC_ENQUEUE          2
#define KVM_DEV_FLIC_CLEAR_IRQS       3
#define KVM_DEV_FLIC_APF_ENABLE       4
#define KVM_DEV_FLIC_APF_DISABLE_WAIT 5
#define KVM_DEV_FLIC_ADAPTER_REGISTER 6
#define KVM_DEV_FLIC_ADAPTER_MODIFY   7
#define KVM_DEV_FLIC_CLEAR_IO_IRQ     8
#define KVM_DEV_FLIC_AISM             9
#define KVM_DEV_FLIC_AIRQ_INJECT      10
#define KVM_DEV_FLIC_AISM_ALL         11
#define KVM_S390_MAX_FLOAT_IRQS       266250
#define KVM_S390_FLIC_MAX_BUFFER      0x2000000

/* kvm attr_group on the VM fd */
#define KVM_S390_VM_MEM_CTRL     0
#define KVM_S390_VM_TOD          1
#define KVM_S390_VM_CRYPTO       2
#define KVM_S390_VM_CPU_MODEL    3
#define KVM_S390_VM_MIGRATION    4
#define KVM_S390_VM_CPU_TOPOLOGY 5

/* kvm attributes for mem_ctrl */
#define KVM_S390_VM_MEM_ENABLE_CMMA 0
#define KVM_S390_VM_MEM_CLR_CMMA    1
#define KVM_S390_VM_MEM_LIMIT_SIZE  2
#define KVM_S390_NO_MEM_LIMIT       UINT64_MAX

/* kvm attributes for KVM_S390_VM_TOD */
#define KVM_S390_VM_TOD_LOW  0 /* __u64, TOD bits 0-63 */
#define KVM_S390_VM_TOD_HIGH 1 /* __u8, epoch extension */
#define KVM_S390_VM_TOD_EXT  2 /* struct kvm_s390_vm_tod_clock */

/* 16 bytes: 7 bytes of padding follow epoch_idx */
struct kvm_s390_vm_tod_clock {
	__u8  epoch_idx;
	__u64 tod;
};

/* kvm attributes for KVM_S390_VM_CPU_MODEL */
/* processor related attributes are r/w */
#define KVM_S390_VM_CPU_PROCESSOR 0
struct kvm_s390_vm_cpu_processor {
	__u64 cpuid;
	__u16 ibc;
	__u8  pad[6];
	__u64 fac_list[256];
};

/* machine related attributes are r/o */
#define KVM_S390_VM_CPU_MACHINE 1
struct kvm_s390_vm_cpu_machine {
	__u64 cpuid;
	__u32 ibc;
	__u8  pad[4];
	__u64 fac_mask[256];
	__u64 fac_list[256];
};

#define KVM_S390_VM_CPU_PROCESSOR_FEAT 2
#define KVM_S390_VM_CPU_MACHINE_FEAT   3

#define KVM_S390_VM_CPU_FEAT_NR_BITS 1024
#define KVM_S390_VM_CPU_FEAT_ESOP    0
#define KVM_S390_VM_CPU_FEAT_SIEF2   1
#define KVM_S390_VM_CPU_FEAT_64BSCAO 2
#define KVM_S390_VM_CPU_FEAT_SIIF    3
#define KVM_S390_VM_CPU_FEAT_GPERE   4
#define KVM_S390_VM_CPU_FEAT_GSLS    5
#define KVM_S390_VM_CPU_FEAT_IB      6
#define KVM_S390_VM_CPU_FEAT_CEI     7
#define KVM_S390_VM_CPU_FEAT_IBS     8
#define KVM_S390_VM_CPU_FEAT_SKEY    9
#define KVM_S390_VM_CPU_FEAT_CMMA    10
#define KVM_S390_VM_CPU_FEAT_PFMFI   11
#define KVM_S390_VM_CPU_FEAT_SIGPIF  12
#define KVM_S390_VM_CPU_FEAT_KSS     13
struct kvm_s390_vm_cpu_feat {
	__u64 feat[16];
};

#define KVM_S390_VM_CPU_PROCESSOR_SUBFUNC 4
#define KVM_S390_VM_CPU_MACHINE_SUBFUNC   5
/* for "test bit" instructions MSB 0 bit ordering, for "query" raw blocks */
struct kvm_s390_vm_cpu_subfunc {
	__u8 plo[32];		/* always */
	__u8 ptff[16];		/* with TOD-clock steering */
	__u8 kmac[16];		/* with MSA */
	__u8 kmc[16];		/* with MSA */
	__u8 km[16];		/* with MSA */
	__u8 kimd[16];		/* with MSA */
	__u8 klmd[16];		/* with MSA */
	__u8 pckmo[16];		/* with MSA3 */
	__u8 kmctr[16];		/* with MSA4 */
	__u8 kmf[16];		/* with MSA4 */
	__u8 kmo[16];		/* with MSA4 */
	__u8 pcc[16];		/* with MSA4 */
	__u8 ppno[16];		/* with MSA5 */
	__u8 kma[16];		/* with MSA8 */
	__u8 kdsa[16];		/* with MSA9 */
	__u8 sortl[32];		/* with STFLE.150 */
	__u8 dfltcc[32];	/* with STFLE.151 */
	__u8 pfcr[16];		/* with STFLE.201 */
	__u8 reserved[1712];
};

/* Ultravisor features a PV guest may use (kvm-pv-ioctl.md §1.4): ap = bit 4 (IBM) =
 * 0x0800000000000000, ap_intr = bit 5 (IBM) = 0x0400000000000000 of `feat`. */
#define KVM_S390_VM_CPU_PROCESSOR_UV_FEAT_GUEST 6
#define KVM_S390_VM_CPU_MACHINE_UV_FEAT_GUEST   7
#define KVM_S390_VM_CPU_UV_FEAT_NR_BITS         64
#define S390PV_UV_FEAT_AP      0x0800000000000000ULL
#define S390PV_UV_FEAT_AP_INTR 0x0400000000000000ULL
struct kvm_s390_vm_cpu_uv_feat {
	union {
		/* Linux (big-endian s390x): `__u64 : 4; ap : 1; ap_intr : 1; : 58;`. Mirrored on a
		 * little-endian host so that `feat` carries the same numeric value. */
		struct {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			__u64 : 58;
			__u64 ap_intr : 1;	/* bit 5 */
			__u64 ap : 1;		/* bit 4 */
			__u64 : 4;
#else
			__u64 : 4;
			__u64 ap : 1;		/* bit 4 */
			__u64 ap_intr : 1;	/* bit 5 */
			__u64 : 58;
#endif
		};
		__u64 feat;
	};
};

/* kvm attributes for crypto */
#define KVM_S390_VM_CRYPTO_ENABLE_AES_KW  0
#define KVM_S390_VM_CRYPTO_ENABLE_DEA_KW  1
#define KVM_S390_VM_CRYPTO_DISABLE_AES_KW 2
#define KVM_S390_VM_CRYPTO_DISABLE_DEA_KW 3
#define KVM_S390_VM_CRYPTO_ENABLE_APIE    4
#define KVM_S390_VM_CRYPTO_DISABLE_APIE   5

/* kvm attributes for migration mode */
#define KVM_S390_VM_MIGRATION_STOP   0
#define KVM_S390_VM_MIGRATION_START  1
#define KVM_S390_VM_MIGRATION_STATUS 2

/* ============================================================================================
 * Capabilities (KVM_CHECK_EXTENSION / KVM_ENABLE_CAP): the generic ones s390 userspace probes
 * and every s390 one.
 * ========================================================================================== */
#define KVM_CAP_IRQCHIP 0
#define KVM_CAP_USER_MEMORY 3
#define KVM_CAP_NR_VCPUS 9       /* returns recommended max vcpus per vm */
#define KVM_CAP_NR_MEMSLOTS 10   /* returns max memory slots per vm */
#define KVM_CAP_MP_STATE 14
#define KVM_CAP_COALESCED_MMIO 15
#define KVM_CAP_SYNC_MMU 16
#define KVM_CAP_DESTROY_MEMORY_REGION_WORKS 21
#define KVM_CAP_USER_NMI 22
#define KVM_CAP_SET_GUEST_DEBUG 23
#define KVM_CAP_IRQ_ROUTING 25
#define KVM_CAP_JOIN_MEMORY_REGIONS_WORKS 30
#define KVM_CAP_IRQFD 32
#define KVM_CAP_IOEVENTFD 36
#define KVM_CAP_INTERNAL_ERROR_DATA 40
#define KVM_CAP_S390_PSW 42
#define KVM_CAP_ENABLE_CAP 54
#define KVM_CAP_ASYNC_PF 59
#define KVM_CAP_MAX_VCPUS 66     /* returns max vcpus per vm */
#define KVM_CAP_ONE_REG 70
#define KVM_CAP_S390_GMAP 71
#define KVM_CAP_S390_UCONTROL 73
#define KVM_CAP_SYNC_REGS 74
#define KVM_CAP_S390_COW 79
#define KVM_CAP_READONLY_MEM 81
#define KVM_CAP_S390_CSS_SUPPORT 85
#define KVM_CAP_DEVICE_CTRL 89
#define KVM_CAP_ENABLE_CAP_VM 98
#define KVM_CAP_S390_IRQCHIP 99
#define KVM_CAP_IOEVENTFD_NO_LENGTH 100
#define KVM_CAP_VM_ATTRIBUTES 101
#define KVM_CAP_CHECK_EXTENSION_VM 105
#define KVM_CAP_S390_USER_SIGP 106
#define KVM_CAP_S390_VECTOR_REGISTERS 107
#define KVM_CAP_S390_MEM_OP 108
#define KVM_CAP_S390_USER_STSI 109
#define KVM_CAP_S390_SKEYS 110
#define KVM_CAP_S390_INJECT_IRQ 113
#define KVM_CAP_S390_IRQ_STATE 114
#define KVM_CAP_MULTI_ADDRESS_SPACE 118
#define KVM_CAP_GUEST_DEBUG_HW_BPS 119
#define KVM_CAP_GUEST_DEBUG_HW_WPS 120
#define KVM_CAP_S390_RI 124
#define KVM_CAP_VCPU_ATTRIBUTES 127
#define KVM_CAP_MAX_VCPU_ID 128
#define KVM_CAP_S390_USER_INSTR0 130
#define KVM_CAP_IMMEDIATE_EXIT 136
#define KVM_CAP_S390_GS 140
#define KVM_CAP_S390_AIS 141
#define KVM_CAP_S390_CMMA_MIGRATION 145
#define KVM_CAP_S390_AIS_MIGRATION 150
#define KVM_CAP_S390_BPB 152
#define KVM_CAP_S390_HPAGE_1M 156
#define KVM_CAP_S390_VCPU_RESETS 179
#define KVM_CAP_S390_PROTECTED 180
#define KVM_CAP_HALT_POLL 182
#define KVM_CAP_S390_DIAG318 186
#define KVM_CAP_SET_GUEST_DEBUG2 195
#define KVM_CAP_BINARY_STATS_FD 203
#define KVM_CAP_S390_MEM_OP_EXTENSION 211
#define KVM_CAP_S390_PROTECTED_DUMP 217
#define KVM_CAP_S390_ZPCI_OP 221
#define KVM_CAP_S390_CPU_TOPOLOGY 222
#define KVM_CAP_S390_PROTECTED_ASYNC_DISABLE 224
#define KVM_CAP_USER_MEMORY2 231
#define KVM_CAP_MEMORY_FAULT_INFO 232
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#define KVM_CAP_GUEST_MEMFD 234
#define KVM_CAP_VM_TYPES 235
#define KVM_CAP_PRE_FAULT_MEMORY 236
#define KVM_CAP_GUEST_MEMFD_FLAGS 244

/* ============================================================================================
 * s390 memory access: KVM_S390_MEM_OP (vCPU and VM fd)
 * ========================================================================================== */
struct kvm_s390_mem_op {
	/* in */
	__u64 gaddr;		/* the guest address */
	__u64 flags;		/* flags */
	__u32 size;		/* amount of bytes */
	__u32 op;		/* type of operation */
	__u64 buf;		/* buffer in userspace */
	union {
		struct {
			__u8 ar;	/* the access register number */
			__u8 key;	/* access key, ignored if flag unset */
			__u8 pad1[6];	/* ignored */
			__u64 old_addr;	/* ignored if cmpxchg flag unset */
		};
		__u32 sida_offset; /* offset into the sida */
		__u8 reserved[32]; /* ignored */
	};
};

/* types for kvm_s390_mem_op->op */
#define KVM_S390_MEMOP_LOGICAL_READ     0
#define KVM_S390_MEMOP_LOGICAL_WRITE    1
#define KVM_S390_MEMOP_SIDA_READ        2
#define KVM_S390_MEMOP_SIDA_WRITE       3
#define KVM_S390_MEMOP_ABSOLUTE_READ    4
#define KVM_S390_MEMOP_ABSOLUTE_WRITE   5
#define KVM_S390_MEMOP_ABSOLUTE_CMPXCHG 6

/* flags for kvm_s390_mem_op->flags */
#define KVM_S390_MEMOP_F_CHECK_ONLY       (1ULL << 0)
#define KVM_S390_MEMOP_F_INJECT_EXCEPTION (1ULL << 1)
#define KVM_S390_MEMOP_F_SKEY_PROTECTION  (1ULL << 2)

/* flags specifying extension support via KVM_CAP_S390_MEM_OP_EXTENSION */
#define KVM_S390_MEMOP_EXTENSION_CAP_BASE    (1 << 0)
#define KVM_S390_MEMOP_EXTENSION_CAP_CMPXCHG (1 << 1)

/* for KVM_S390_GET_SKEYS / KVM_S390_SET_SKEYS */
#define KVM_S390_GET_SKEYS_NONE 1
#define KVM_S390_SKEYS_MAX      1048576
struct kvm_s390_skeys {
	__u64 start_gfn;
	__u64 count;
	__u64 skeydata_addr;
	__u32 flags;
	__u32 reserved[9];
};

/* for KVM_S390_STORE_STATUS (the argument is the address itself, not a pointer) */
#define KVM_S390_STORE_STATUS_NOADDR   (-1ul)
#define KVM_S390_STORE_STATUS_PREFIXED (-2ul)

/* ============================================================================================
 * s390 interrupts: KVM_S390_INTERRUPT (VM fd: floating; vCPU fd: local) and KVM_S390_IRQ
 * ========================================================================================== */

/* valid values for type in kvm_s390_interrupt (and kvm_s390_irq) */
#define KVM_S390_SIGP_STOP         0xfffe0000u
#define KVM_S390_PROGRAM_INT       0xfffe0001u
#define KVM_S390_SIGP_SET_PREFIX   0xfffe0002u
#define KVM_S390_RESTART           0xfffe0003u
#define KVM_S390_INT_PFAULT_INIT   0xfffe0004u
#define KVM_S390_INT_PFAULT_DONE   0xfffe0005u
#define KVM_S390_MCHK              0xfffe1000u
#define KVM_S390_INT_CLOCK_COMP    0xffff1004u
#define KVM_S390_INT_CPU_TIMER     0xffff1005u
#define KVM_S390_INT_VIRTIO        0xffff2603u
#define KVM_S390_INT_SERVICE       0xffff2401u
#define KVM_S390_INT_EMERGENCY     0xffff1201u
#define KVM_S390_INT_EXTERNAL_CALL 0xffff1202u
/* Anything below 0xfffe0000u is taken by INT_IO */
#define KVM_S390_INT_IO(ai,cssid,ssid,schid)   \
	(((schid)) |			       \
	 ((ssid) << 16) |		       \
	 ((cssid) << 18) |		       \
	 ((ai) << 26))
#define KVM_S390_INT_IO_MIN     0x00000000u
#define KVM_S390_INT_IO_MAX     0xfffdffffu
#define KVM_S390_INT_IO_AI_MASK 0x04000000u

struct kvm_s390_interrupt {
	__u32 type;
	__u32 parm;
	__u64 parm64;
};

struct kvm_s390_io_info {
	__u16 subchannel_id;
	__u16 subchannel_nr;
	__u32 io_int_parm;
	__u32 io_int_word;
};

struct kvm_s390_ext_info {
	__u32 ext_params;
	__u32 pad;
	__u64 ext_params2;
};

#define KVM_S390_PGM_FLAGS_ILC_VALID 0x01
#define KVM_S390_PGM_FLAGS_ILC_0     0x02
#define KVM_S390_PGM_FLAGS_ILC_1     0x04
#define KVM_S390_PGM_FLAGS_ILC_MASK  0x06
#define KVM_S390_PGM_FLAGS_NO_REWIND 0x08

struct kvm_s390_pgm_info {
	__u64 trans_exc_code;
	__u64 mon_code;
	__u64 per_address;
	__u32 data_exc_code;
	__u16 code;
	__u16 mon_class_nr;
	__u8 per_code;
	__u8 per_atmid;
	__u8 exc_access_id;
	__u8 per_access_id;
	__u8 op_access_id;
	__u8 flags;
	__u8 pad[2];
};

struct kvm_s390_prefix_info {
	__u32 address;
};

struct kvm_s390_extcall_info {
	__u16 code;
};

struct kvm_s390_emerg_info {
	__u16 code;
};

#define KVM_S390_STOP_FLAG_STORE_STATUS 0x01
struct kvm_s390_stop_info {
	__u32 flags;
};

struct kvm_s390_mchk_info {
	__u64 cr14;
	__u64 mcic;
	__u64 failing_storage_address;
	__u32 ext_damage_code;
	__u32 pad;
	__u8 fixed_logout[16];
};

struct kvm_s390_irq {
	__u64 type;
	union {
		struct kvm_s390_io_info io;
		struct kvm_s390_ext_info ext;
		struct kvm_s390_pgm_info pgm;
		struct kvm_s390_emerg_info emerg;
		struct kvm_s390_extcall_info extcall;
		struct kvm_s390_prefix_info prefix;
		struct kvm_s390_stop_info stop;
		struct kvm_s390_mchk_info mchk;
		char reserved[64];
	} u;
};

/* for KVM_S390_GET_IRQ_STATE / KVM_S390_SET_IRQ_STATE */
struct kvm_s390_irq_state {
	__u64 buf;
	__u32 flags;        /* will stay unused for compatibility reasons */
	__u32 len;
	__u32 reserved[4];  /* will stay unused for compatibility reasons */
};

/* ============================================================================================
 * Protected virtualization: KVM_S390_PV_COMMAND (VM fd), KVM_S390_PV_CPU_COMMAND (vCPU fd)
 * ========================================================================================== */
struct kvm_s390_pv_sec_parm {
	__u64 origin;
	__u64 length;
};

struct kvm_s390_pv_unp {
	__u64 addr;
	__u64 size;
	__u64 tweak;
};

enum pv_cmd_dmp_id {
	KVM_PV_DUMP_INIT,
	KVM_PV_DUMP_CONFIG_STOR_STATE,
	KVM_PV_DUMP_COMPLETE,
	KVM_PV_DUMP_CPU,
};

struct kvm_s390_pv_dmp {
	__u64 subcmd;
	__u64 buff_addr;
	__u64 buff_len;
	__u64 gaddr;		/* For dump storage state */
	__u64 reserved[4];
};

enum pv_cmd_info_id {
	KVM_PV_INFO_VM,
	KVM_PV_INFO_DUMP,
};

struct kvm_s390_pv_info_dump {
	__u64 dump_cpu_buffer_len;
	__u64 dump_config_mem_buffer_per_1m;
	__u64 dump_config_finalize_len;
};

struct kvm_s390_pv_info_vm {
	__u64 inst_calls_list[4];
	__u64 max_cpus;
	__u64 max_guests;
	__u64 max_guest_addr;
	__u64 feature_indication;
};

struct kvm_s390_pv_info_header {
	__u32 id;
	__u32 len_max;
	__u32 len_written;
	__u32 reserved;
};

struct kvm_s390_pv_info {
	struct kvm_s390_pv_info_header header;
	union {
		struct kvm_s390_pv_info_dump dump;
		struct kvm_s390_pv_info_vm vm;
	};
};

enum pv_cmd_id {
	KVM_PV_ENABLE,
	KVM_PV_DISABLE,
	KVM_PV_SET_SEC_PARMS,
	KVM_PV_UNPACK,
	KVM_PV_VERIFY,
	KVM_PV_PREP_RESET,
	KVM_PV_UNSHARE_ALL,
	KVM_PV_INFO,
	KVM_PV_DUMP,
	KVM_PV_ASYNC_CLEANUP_PREPARE,
	KVM_PV_ASYNC_CLEANUP_PERFORM,
};

struct kvm_pv_cmd {
	__u32 cmd;	/* Command to be executed */
	__u16 rc;	/* Ultravisor return code */
	__u16 rrc;	/* Ultravisor return reason code */
	__u64 data;	/* Data or address */
	__u32 flags;    /* flags for future extensions. Must be 0 for now */
	__u32 reserved[3];
};

/* ============================================================================================
 * ioctl numbers. Each has the Linux macro (for C), an S390PV_ constant (for Swift) and a
 * compile-time check that the two agree. Note: KVM_S390_MEM_OP and KVM_GET_DEVICE_ATTR are _IOW
 * although the kernel also writes through their argument; KVM_S390_PV_COMMAND is _IOWR.
 * ========================================================================================== */

/* ---- system fd (/dev/kvm) ---- */
#define KVM_GET_API_VERSION S390PV_IO(KVMIO, 0x00)
static const unsigned long S390PV_KVM_GET_API_VERSION = 0xAE00UL;
S390PV_STATIC_ASSERT(KVM_GET_API_VERSION == 0xAE00UL, "KVM_GET_API_VERSION");

#define KVM_CREATE_VM S390PV_IO(KVMIO, 0x01) /* returns a VM fd */
static const unsigned long S390PV_KVM_CREATE_VM = 0xAE01UL;
S390PV_STATIC_ASSERT(KVM_CREATE_VM == 0xAE01UL, "KVM_CREATE_VM");

#define KVM_CHECK_EXTENSION S390PV_IO(KVMIO, 0x03) /* also on VM fds (KVM_CAP_CHECK_EXTENSION_VM) */
static const unsigned long S390PV_KVM_CHECK_EXTENSION = 0xAE03UL;
S390PV_STATIC_ASSERT(KVM_CHECK_EXTENSION == 0xAE03UL, "KVM_CHECK_EXTENSION");

#define KVM_GET_VCPU_MMAP_SIZE S390PV_IO(KVMIO, 0x04) /* in bytes */
static const unsigned long S390PV_KVM_GET_VCPU_MMAP_SIZE = 0xAE04UL;
S390PV_STATIC_ASSERT(KVM_GET_VCPU_MMAP_SIZE == 0xAE04UL, "KVM_GET_VCPU_MMAP_SIZE");

#define KVM_S390_ENABLE_SIE S390PV_IO(KVMIO, 0x06)
static const unsigned long S390PV_KVM_S390_ENABLE_SIE = 0xAE06UL;
S390PV_STATIC_ASSERT(KVM_S390_ENABLE_SIE == 0xAE06UL, "KVM_S390_ENABLE_SIE");

/* ---- VM fd ---- */
#define KVM_CREATE_VCPU S390PV_IO(KVMIO, 0x41)
static const unsigned long S390PV_KVM_CREATE_VCPU = 0xAE41UL;
S390PV_STATIC_ASSERT(KVM_CREATE_VCPU == 0xAE41UL, "KVM_CREATE_VCPU");

#define KVM_SET_USER_MEMORY_REGION S390PV_IOW(KVMIO, 0x46, struct kvm_userspace_memory_region)
static const unsigned long S390PV_KVM_SET_USER_MEMORY_REGION = 0x4020AE46UL;
S390PV_STATIC_ASSERT(KVM_SET_USER_MEMORY_REGION == 0x4020AE46UL, "KVM_SET_USER_MEMORY_REGION");

#define KVM_SET_USER_MEMORY_REGION2 S390PV_IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
static const unsigned long S390PV_KVM_SET_USER_MEMORY_REGION2 = 0x40A0AE49UL;
S390PV_STATIC_ASSERT(KVM_SET_USER_MEMORY_REGION2 == 0x40A0AE49UL, "KVM_SET_USER_MEMORY_REGION2");

#define KVM_S390_INTERRUPT S390PV_IOW(KVMIO, 0x94, struct kvm_s390_interrupt) /* VM and vCPU */
static const unsigned long S390PV_KVM_S390_INTERRUPT = 0x4010AE94UL;
S390PV_STATIC_ASSERT(KVM_S390_INTERRUPT == 0x4010AE94UL, "KVM_S390_INTERRUPT");

#define KVM_ENABLE_CAP S390PV_IOW(KVMIO, 0xa3, struct kvm_enable_cap) /* VM and vCPU */
static const unsigned long S390PV_KVM_ENABLE_CAP = 0x4068AEA3UL;
S390PV_STATIC_ASSERT(KVM_ENABLE_CAP == 0x4068AEA3UL, "KVM_ENABLE_CAP");

#define KVM_S390_MEM_OP S390PV_IOW(KVMIO, 0xb1, struct kvm_s390_mem_op) /* VM and vCPU */
static const unsigned long S390PV_KVM_S390_MEM_OP = 0x4040AEB1UL;
S390PV_STATIC_ASSERT(KVM_S390_MEM_OP == 0x4040AEB1UL, "KVM_S390_MEM_OP");

#define KVM_S390_GET_SKEYS S390PV_IOW(KVMIO, 0xb2, struct kvm_s390_skeys)
static const unsigned long S390PV_KVM_S390_GET_SKEYS = 0x4040AEB2UL;
S390PV_STATIC_ASSERT(KVM_S390_GET_SKEYS == 0x4040AEB2UL, "KVM_S390_GET_SKEYS");

#define KVM_S390_SET_SKEYS S390PV_IOW(KVMIO, 0xb3, struct kvm_s390_skeys)
static const unsigned long S390PV_KVM_S390_SET_SKEYS = 0x4040AEB3UL;
S390PV_STATIC_ASSERT(KVM_S390_SET_SKEYS == 0x4040AEB3UL, "KVM_S390_SET_SKEYS");

#define KVM_S390_PV_COMMAND S390PV_IOWR(KVMIO, 0xc5, struct kvm_pv_cmd)
static const unsigned long S390PV_KVM_S390_PV_COMMAND = 0xC020AEC5UL;
S390PV_STATIC_ASSERT(KVM_S390_PV_COMMAND == 0xC020AEC5UL, "KVM_S390_PV_COMMAND");

#define KVM_SET_MEMORY_ATTRIBUTES S390PV_IOW(KVMIO, 0xd2, struct kvm_memory_attributes)
static const unsigned long S390PV_KVM_SET_MEMORY_ATTRIBUTES = 0x4020AED2UL;
S390PV_STATIC_ASSERT(KVM_SET_MEMORY_ATTRIBUTES == 0x4020AED2UL, "KVM_SET_MEMORY_ATTRIBUTES");

#define KVM_CREATE_GUEST_MEMFD S390PV_IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
static const unsigned long S390PV_KVM_CREATE_GUEST_MEMFD = 0xC040AED4UL;
S390PV_STATIC_ASSERT(KVM_CREATE_GUEST_MEMFD == 0xC040AED4UL, "KVM_CREATE_GUEST_MEMFD");

#define KVM_CREATE_DEVICE S390PV_IOWR(KVMIO, 0xe0, struct kvm_create_device)
static const unsigned long S390PV_KVM_CREATE_DEVICE = 0xC00CAEE0UL;
S390PV_STATIC_ASSERT(KVM_CREATE_DEVICE == 0xC00CAEE0UL, "KVM_CREATE_DEVICE");

/* ---- VM fd (s390 VM attributes), vCPU fd, device fds ---- */
#define KVM_SET_DEVICE_ATTR S390PV_IOW(KVMIO, 0xe1, struct kvm_device_attr)
static const unsigned long S390PV_KVM_SET_DEVICE_ATTR = 0x4018AEE1UL;
S390PV_STATIC_ASSERT(KVM_SET_DEVICE_ATTR == 0x4018AEE1UL, "KVM_SET_DEVICE_ATTR");

#define KVM_GET_DEVICE_ATTR S390PV_IOW(KVMIO, 0xe2, struct kvm_device_attr)
static const unsigned long S390PV_KVM_GET_DEVICE_ATTR = 0x4018AEE2UL;
S390PV_STATIC_ASSERT(KVM_GET_DEVICE_ATTR == 0x4018AEE2UL, "KVM_GET_DEVICE_ATTR");

#define KVM_HAS_DEVICE_ATTR S390PV_IOW(KVMIO, 0xe3, struct kvm_device_attr)
static const unsigned long S390PV_KVM_HAS_DEVICE_ATTR = 0x4018AEE3UL;
S390PV_STATIC_ASSERT(KVM_HAS_DEVICE_ATTR == 0x4018AEE3UL, "KVM_HAS_DEVICE_ATTR");

/* ---- vCPU fd ---- */
#define KVM_RUN S390PV_IO(KVMIO, 0x80)
static const unsigned long S390PV_KVM_RUN = 0xAE80UL;
S390PV_STATIC_ASSERT(KVM_RUN == 0xAE80UL, "KVM_RUN");

#define KVM_GET_REGS S390PV_IOR(KVMIO, 0x81, struct kvm_regs)
static const unsigned long S390PV_KVM_GET_REGS = 0x8080AE81UL;
S390PV_STATIC_ASSERT(KVM_GET_REGS == 0x8080AE81UL, "KVM_GET_REGS");

#define KVM_SET_REGS S390PV_IOW(KVMIO, 0x82, struct kvm_regs)
static const unsigned long S390PV_KVM_SET_REGS = 0x4080AE82UL;
S390PV_STATIC_ASSERT(KVM_SET_REGS == 0x4080AE82UL, "KVM_SET_REGS");

#define KVM_GET_SREGS S390PV_IOR(KVMIO, 0x83, struct kvm_sregs)
static const unsigned long S390PV_KVM_GET_SREGS = 0x80C0AE83UL;
S390PV_STATIC_ASSERT(KVM_GET_SREGS == 0x80C0AE83UL, "KVM_GET_SREGS");

#define KVM_SET_SREGS S390PV_IOW(KVMIO, 0x84, struct kvm_sregs)
static const unsigned long S390PV_KVM_SET_SREGS = 0x40C0AE84UL;
S390PV_STATIC_ASSERT(KVM_SET_SREGS == 0x40C0AE84UL, "KVM_SET_SREGS");

#define KVM_GET_FPU S390PV_IOR(KVMIO, 0x8c, struct kvm_fpu)
static const unsigned long S390PV_KVM_GET_FPU = 0x8088AE8CUL;
S390PV_STATIC_ASSERT(KVM_GET_FPU == 0x8088AE8CUL, "KVM_GET_FPU");

#define KVM_SET_FPU S390PV_IOW(KVMIO, 0x8d, struct kvm_fpu)
static const unsigned long S390PV_KVM_SET_FPU = 0x4088AE8DUL;
S390PV_STATIC_ASSERT(KVM_SET_FPU == 0x4088AE8DUL, "KVM_SET_FPU");

#define KVM_S390_STORE_STATUS S390PV_IOW(KVMIO, 0x95, unsigned long)
static const unsigned long S390PV_KVM_S390_STORE_STATUS = 0x4008AE95UL;
S390PV_STATIC_ASSERT(KVM_S390_STORE_STATUS == 0x4008AE95UL, "KVM_S390_STORE_STATUS");

#define KVM_S390_SET_INITIAL_PSW S390PV_IOW(KVMIO, 0x96, struct kvm_s390_psw)
static const unsigned long S390PV_KVM_S390_SET_INITIAL_PSW = 0x4010AE96UL;
S390PV_STATIC_ASSERT(KVM_S390_SET_INITIAL_PSW == 0x4010AE96UL, "KVM_S390_SET_INITIAL_PSW");

#define KVM_S390_INITIAL_RESET S390PV_IO(KVMIO, 0x97)
static const unsigned long S390PV_KVM_S390_INITIAL_RESET = 0xAE97UL;
S390PV_STATIC_ASSERT(KVM_S390_INITIAL_RESET == 0xAE97UL, "KVM_S390_INITIAL_RESET");

#define KVM_GET_MP_STATE S390PV_IOR(KVMIO, 0x98, struct kvm_mp_state)
static const unsigned long S390PV_KVM_GET_MP_STATE = 0x8004AE98UL;
S390PV_STATIC_ASSERT(KVM_GET_MP_STATE == 0x8004AE98UL, "KVM_GET_MP_STATE");

#define KVM_SET_MP_STATE S390PV_IOW(KVMIO, 0x99, struct kvm_mp_state)
static const unsigned long S390PV_KVM_SET_MP_STATE = 0x4004AE99UL;
S390PV_STATIC_ASSERT(KVM_SET_MP_STATE == 0x4004AE99UL, "KVM_SET_MP_STATE");

#define KVM_SET_GUEST_DEBUG S390PV_IOW(KVMIO, 0x9b, struct kvm_guest_debug)
static const unsigned long S390PV_KVM_SET_GUEST_DEBUG = 0x4018AE9BUL;
S390PV_STATIC_ASSERT(KVM_SET_GUEST_DEBUG == 0x4018AE9BUL, "KVM_SET_GUEST_DEBUG");

#define KVM_GET_ONE_REG S390PV_IOW(KVMIO, 0xab, struct kvm_one_reg)
static const unsigned long S390PV_KVM_GET_ONE_REG = 0x4010AEABUL;
S390PV_STATIC_ASSERT(KVM_GET_ONE_REG == 0x4010AEABUL, "KVM_GET_ONE_REG");

#define KVM_SET_ONE_REG S390PV_IOW(KVMIO, 0xac, struct kvm_one_reg)
static const unsigned long S390PV_KVM_SET_ONE_REG = 0x4010AEACUL;
S390PV_STATIC_ASSERT(KVM_SET_ONE_REG == 0x4010AEACUL, "KVM_SET_ONE_REG");

#define KVM_S390_IRQ S390PV_IOW(KVMIO, 0xb4, struct kvm_s390_irq)
static const unsigned long S390PV_KVM_S390_IRQ = 0x4048AEB4UL;
S390PV_STATIC_ASSERT(KVM_S390_IRQ == 0x4048AEB4UL, "KVM_S390_IRQ");

#define KVM_S390_SET_IRQ_STATE S390PV_IOW(KVMIO, 0xb5, struct kvm_s390_irq_state)
static const unsigned long S390PV_KVM_S390_SET_IRQ_STATE = 0x4020AEB5UL;
S390PV_STATIC_ASSERT(KVM_S390_SET_IRQ_STATE == 0x4020AEB5UL, "KVM_S390_SET_IRQ_STATE");

#define KVM_S390_GET_IRQ_STATE S390PV_IOW(KVMIO, 0xb6, struct kvm_s390_irq_state)
static const unsigned long S390PV_KVM_S390_GET_IRQ_STATE = 0x4020AEB6UL;
S390PV_STATIC_ASSERT(KVM_S390_GET_IRQ_STATE == 0x4020AEB6UL, "KVM_S390_GET_IRQ_STATE");

#define KVM_S390_NORMAL_RESET S390PV_IO(KVMIO, 0xc3)
static const unsigned long S390PV_KVM_S390_NORMAL_RESET = 0xAEC3UL;
S390PV_STATIC_ASSERT(KVM_S390_NORMAL_RESET == 0xAEC3UL, "KVM_S390_NORMAL_RESET");

#define KVM_S390_CLEAR_RESET S390PV_IO(KVMIO, 0xc4)
static const unsigned long S390PV_KVM_S390_CLEAR_RESET = 0xAEC4UL;
S390PV_STATIC_ASSERT(KVM_S390_CLEAR_RESET == 0xAEC4UL, "KVM_S390_CLEAR_RESET");

#define KVM_S390_PV_CPU_COMMAND S390PV_IOWR(KVMIO, 0xd0, struct kvm_pv_cmd)
static const unsigned long S390PV_KVM_S390_PV_CPU_COMMAND = 0xC020AED0UL;
S390PV_STATIC_ASSERT(KVM_S390_PV_CPU_COMMAND == 0xC020AED0UL, "KVM_S390_PV_CPU_COMMAND");

#if defined(__linux__) && defined(_IOWR) && defined(_IOC_DIRSHIFT)
/* Whatever <asm-generic/ioctl.h> (or this header) provided as _IO*, it must agree. */
S390PV_STATIC_ASSERT(_IOWR(KVMIO, 0xc5, struct kvm_pv_cmd) == KVM_S390_PV_COMMAND, "_IOWR");
S390PV_STATIC_ASSERT(_IOR(KVMIO, 0x98, struct kvm_mp_state) == KVM_GET_MP_STATE, "_IOR");
S390PV_STATIC_ASSERT(_IOW(KVMIO, 0x99, struct kvm_mp_state) == KVM_SET_MP_STATE, "_IOW");
S390PV_STATIC_ASSERT(_IO(KVMIO, 0x80) == KVM_RUN, "_IO");
#endif

/* ============================================================================================
 * Layout checks against s390x Linux (sizes and offsets as on s390x; see the spec §1.4).
 * ========================================================================================== */
#define S390PV_SIZE(type, bytes) S390PV_STATIC_ASSERT(sizeof(type) == (bytes), "sizeof(" #type ")")
#define S390PV_OFFSET(type, member, bytes) \
	S390PV_STATIC_ASSERT(offsetof(type, member) == (bytes), "offsetof(" #type ", " #member ")")

S390PV_SIZE(struct kvm_regs, 128);
S390PV_SIZE(struct kvm_sregs, 192);
S390PV_OFFSET(struct kvm_sregs, crs, 64);
S390PV_SIZE(struct kvm_fpu, 136);
S390PV_OFFSET(struct kvm_fpu, fprs, 8);
S390PV_SIZE(struct kvm_s390_psw, 16);
S390PV_SIZE(struct kvm_debug_exit_arch, 16);
S390PV_SIZE(struct kvm_hw_breakpoint, 32);
S390PV_SIZE(struct kvm_guest_debug_arch, 16);
S390PV_SIZE(struct kvm_guest_debug, 24);
S390PV_OFFSET(struct kvm_guest_debug, arch, 8);

S390PV_SIZE(struct kvm_sync_regs, 1984);
S390PV_OFFSET(struct kvm_sync_regs, prefix, 0);
S390PV_OFFSET(struct kvm_sync_regs, gprs, 8);
S390PV_OFFSET(struct kvm_sync_regs, acrs, 136);
S390PV_OFFSET(struct kvm_sync_regs, crs, 200);
S390PV_OFFSET(struct kvm_sync_regs, todpr, 328);
S390PV_OFFSET(struct kvm_sync_regs, cputm, 336);
S390PV_OFFSET(struct kvm_sync_regs, ckc, 344);
S390PV_OFFSET(struct kvm_sync_regs, pp, 352);
S390PV_OFFSET(struct kvm_sync_regs, gbea, 360);
S390PV_OFFSET(struct kvm_sync_regs, pft, 368);
S390PV_OFFSET(struct kvm_sync_regs, pfs, 376);
S390PV_OFFSET(struct kvm_sync_regs, pfc, 384);
S390PV_OFFSET(struct kvm_sync_regs, vrs, 392);
S390PV_OFFSET(struct kvm_sync_regs, fprs, 392);
S390PV_OFFSET(struct kvm_sync_regs, reserved, 904);
S390PV_OFFSET(struct kvm_sync_regs, fpc, 1416);
S390PV_OFFSET(struct kvm_sync_regs, padding1, 1421);
S390PV_OFFSET(struct kvm_sync_regs, riccb, 1472);
S390PV_OFFSET(struct kvm_sync_regs, diag318, 1536);
S390PV_OFFSET(struct kvm_sync_regs, padding2, 1544);
S390PV_OFFSET(struct kvm_sync_regs, sdnx, 1728);
S390PV_OFFSET(struct kvm_sync_regs, gscb, 1744);
S390PV_OFFSET(struct kvm_sync_regs, etoken, 1776);
S390PV_OFFSET(struct kvm_sync_regs, etoken_extension, 1784);

S390PV_SIZE(struct kvm_run, 2368);
S390PV_OFFSET(struct kvm_run, request_interrupt_window, 0);
S390PV_OFFSET(struct kvm_run, immediate_exit, 1);
S390PV_OFFSET(struct kvm_run, exit_reason, 8);
S390PV_OFFSET(struct kvm_run, ready_for_interrupt_injection, 12);
S390PV_OFFSET(struct kvm_run, if_flag, 13);
S390PV_OFFSET(struct kvm_run, flags, 14);
S390PV_OFFSET(struct kvm_run, cr8, 16);
S390PV_OFFSET(struct kvm_run, apic_base, 24);
S390PV_OFFSET(struct kvm_run, psw_mask, 32);
S390PV_OFFSET(struct kvm_run, psw_addr, 40);
S390PV_OFFSET(struct kvm_run, hw, 48);
S390PV_OFFSET(struct kvm_run, padding, 48);
S390PV_OFFSET(struct kvm_run, s390_sieic.icptcode, 48);
S390PV_OFFSET(struct kvm_run, s390_sieic.ipa, 50);
S390PV_OFFSET(struct kvm_run, s390_sieic.ipb, 52);
S390PV_OFFSET(struct kvm_run, s390_reset_flags, 48);
S390PV_OFFSET(struct kvm_run, s390_ucontrol.pgm_code, 56);
S390PV_OFFSET(struct kvm_run, internal.ndata, 52);
S390PV_OFFSET(struct kvm_run, internal.data, 56);
S390PV_OFFSET(struct kvm_run, s390_tsch.io_int_parm, 52);
S390PV_OFFSET(struct kvm_run, s390_tsch.ipb, 60);
S390PV_OFFSET(struct kvm_run, s390_tsch.dequeued, 64);
S390PV_OFFSET(struct kvm_run, system_event.data, 56);
S390PV_OFFSET(struct kvm_run, s390_stsi.ar, 56);
S390PV_OFFSET(struct kvm_run, s390_stsi.fc, 58);
S390PV_OFFSET(struct kvm_run, s390_stsi.sel1, 59);
S390PV_OFFSET(struct kvm_run, s390_stsi.sel2, 60);
S390PV_OFFSET(struct kvm_run, memory_fault.gpa, 56);
S390PV_OFFSET(struct kvm_run, memory_fault.size, 64);
S390PV_OFFSET(struct kvm_run, kvm_valid_regs, 304);
S390PV_OFFSET(struct kvm_run, kvm_dirty_regs, 312);
S390PV_OFFSET(struct kvm_run, s, 320);
S390PV_OFFSET(struct kvm_run, s.regs.riccb, 1792);  /* 64-byte aligned in the mapping */
S390PV_OFFSET(struct kvm_run, s.regs.sdnx, 2048);   /* 256-byte aligned in the mapping */

S390PV_SIZE(struct kvm_userspace_memory_region, 32);
S390PV_SIZE(struct kvm_userspace_memory_region2, 160);
S390PV_OFFSET(struct kvm_userspace_memory_region2, guest_memfd_offset, 32);
S390PV_OFFSET(struct kvm_userspace_memory_region2, guest_memfd, 40);
S390PV_OFFSET(struct kvm_userspace_memory_region2, pad2, 48);
S390PV_SIZE(struct kvm_create_guest_memfd, 64);
S390PV_SIZE(struct kvm_memory_attributes, 32);
S390PV_OFFSET(struct kvm_memory_attributes, flags, 24);

S390PV_SIZE(struct kvm_mp_state, 4);
S390PV_SIZE(struct kvm_enable_cap, 104);
S390PV_OFFSET(struct kvm_enable_cap, args, 8);
S390PV_OFFSET(struct kvm_enable_cap, pad, 40);
S390PV_SIZE(struct kvm_one_reg, 16);
S390PV_SIZE(struct kvm_create_device, 12);
S390PV_SIZE(struct kvm_device_attr, 24);
S390PV_OFFSET(struct kvm_device_attr, attr, 8);
S390PV_OFFSET(struct kvm_device_attr, addr, 16);
S390PV_SIZE(struct kvm_s390_vm_tod_clock, 16);
S390PV_OFFSET(struct kvm_s390_vm_tod_clock, tod, 8);
S390PV_SIZE(struct kvm_s390_vm_cpu_processor, 2064);
S390PV_SIZE(struct kvm_s390_vm_cpu_machine, 4112);
S390PV_SIZE(struct kvm_s390_vm_cpu_feat, 128);
S390PV_SIZE(struct kvm_s390_vm_cpu_subfunc, 2048);
S390PV_SIZE(struct kvm_s390_vm_cpu_uv_feat, 8);

S390PV_SIZE(struct kvm_s390_mem_op, 64);
S390PV_OFFSET(struct kvm_s390_mem_op, flags, 8);
S390PV_OFFSET(struct kvm_s390_mem_op, size, 16);
S390PV_OFFSET(struct kvm_s390_mem_op, op, 20);
S390PV_OFFSET(struct kvm_s390_mem_op, buf, 24);
S390PV_OFFSET(struct kvm_s390_mem_op, ar, 32);
S390PV_OFFSET(struct kvm_s390_mem_op, key, 33);
S390PV_OFFSET(struct kvm_s390_mem_op, old_addr, 40);
S390PV_OFFSET(struct kvm_s390_mem_op, sida_offset, 32);
S390PV_OFFSET(struct kvm_s390_mem_op, reserved, 32);
S390PV_SIZE(struct kvm_s390_skeys, 64);

S390PV_SIZE(struct kvm_s390_interrupt, 16);
S390PV_OFFSET(struct kvm_s390_interrupt, parm64, 8);
S390PV_SIZE(struct kvm_s390_io_info, 12);
S390PV_SIZE(struct kvm_s390_ext_info, 16);
S390PV_SIZE(struct kvm_s390_pgm_info, 40);
S390PV_OFFSET(struct kvm_s390_pgm_info, data_exc_code, 24);
S390PV_OFFSET(struct kvm_s390_pgm_info, code, 28);
S390PV_OFFSET(struct kvm_s390_pgm_info, mon_class_nr, 30);
S390PV_OFFSET(struct kvm_s390_pgm_info, per_code, 32);
S390PV_OFFSET(struct kvm_s390_pgm_info, op_access_id, 36);
S390PV_OFFSET(struct kvm_s390_pgm_info, flags, 37);
S390PV_SIZE(struct kvm_s390_prefix_info, 4);
S390PV_SIZE(struct kvm_s390_extcall_info, 2);
S390PV_SIZE(struct kvm_s390_emerg_info, 2);
S390PV_SIZE(struct kvm_s390_stop_info, 4);
S390PV_SIZE(struct kvm_s390_mchk_info, 48);
S390PV_OFFSET(struct kvm_s390_mchk_info, fixed_logout, 32);
S390PV_SIZE(struct kvm_s390_irq, 72);
S390PV_OFFSET(struct kvm_s390_irq, u, 8);
S390PV_SIZE(struct kvm_s390_irq_state, 32);

S390PV_SIZE(struct kvm_pv_cmd, 32);
S390PV_OFFSET(struct kvm_pv_cmd, rc, 4);
S390PV_OFFSET(struct kvm_pv_cmd, rrc, 6);
S390PV_OFFSET(struct kvm_pv_cmd, data, 8);
S390PV_OFFSET(struct kvm_pv_cmd, flags, 16);
S390PV_OFFSET(struct kvm_pv_cmd, reserved, 20);
S390PV_SIZE(struct kvm_s390_pv_sec_parm, 16);
S390PV_SIZE(struct kvm_s390_pv_unp, 24);
S390PV_OFFSET(struct kvm_s390_pv_unp, tweak, 16);
S390PV_SIZE(struct kvm_s390_pv_info_header, 16);
S390PV_SIZE(struct kvm_s390_pv_info_vm, 64);
S390PV_SIZE(struct kvm_s390_pv_info_dump, 24);
S390PV_SIZE(struct kvm_s390_pv_info, 80);
S390PV_OFFSET(struct kvm_s390_pv_info, vm, 16);
S390PV_OFFSET(struct kvm_s390_pv_info, dump, 16);
S390PV_OFFSET(struct kvm_s390_pv_info, vm.max_cpus, 48);
S390PV_OFFSET(struct kvm_s390_pv_info, vm.feature_indication, 72);
S390PV_OFFSET(struct kvm_s390_pv_info, dump.dump_config_finalize_len, 32);
S390PV_SIZE(struct kvm_s390_pv_dmp, 64);
S390PV_OFFSET(struct kvm_s390_pv_dmp, gaddr, 24);
S390PV_OFFSET(struct kvm_s390_pv_dmp, reserved, 32);

S390PV_STATIC_ASSERT(KVM_PV_ASYNC_CLEANUP_PERFORM == 10, "enum pv_cmd_id");
S390PV_STATIC_ASSERT(KVM_PV_DUMP_CPU == 3, "enum pv_cmd_dmp_id");
S390PV_STATIC_ASSERT(KVM_PV_INFO_DUMP == 1, "enum pv_cmd_info_id");

#undef S390PV_SIZE
#undef S390PV_OFFSET

#ifdef __cplusplus
}
#endif

#endif /* S390PV_KVM_H */
