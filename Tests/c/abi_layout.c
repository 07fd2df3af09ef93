/*
 * abi_layout: checks Sources/CKVM/include/s390pv_kvm.h against s390x Linux.
 *
 * The header's _Static_asserts (struct sizes and offsets, ioctl macro == numeric constant) are
 * checked by compiling this file; the runtime checks below compare the ioctl numbers with the
 * values in ../shared/spec/kvm-pv-ioctl.md §1.1 and memory-clock-pidfd.md §1.3, every S390PV_
 * constant with its Linux macro, and the bit-field placement that mirrors big-endian s390x.
 * Prints only failures and a final "abi_layout: N passed, M failed"; exits 0 iff M == 0.
 *
 *   cc -std=c11 -Wall -Wextra -I Sources/CKVM/include Tests/c/abi_layout.c -o abi_layout
 */
#include <stdio.h>
#include <string.h>

#include "s390pv_kvm.h"

static unsigned passed, failed;

static void check(const char *what, unsigned long long got, unsigned long long want)
{
	if (got == want) {
		passed++;
	} else {
		failed++;
		printf("FAIL %s: 0x%llX, want 0x%llX\n", what, got, want);
	}
}

#define CHECK(expr, want) check(#expr, (unsigned long long)(expr), (unsigned long long)(want))
/* The Swift-visible constant must equal the C macro. */
#define CHECK_PAIR(name) check("S390PV_" #name " == " #name, S390PV_##name, (name))

int main(void)
{
	/* ioctl numbers from the specs */
	CHECK(KVM_S390_PV_COMMAND, 0xC020AEC5UL);
	CHECK(KVM_S390_PV_CPU_COMMAND, 0xC020AED0UL);
	CHECK(KVM_CHECK_EXTENSION, 0xAE03UL);
	CHECK(KVM_SET_MP_STATE, 0x4004AE99UL);
	CHECK(KVM_GET_MP_STATE, 0x8004AE98UL);
	CHECK(KVM_S390_INITIAL_RESET, 0xAE97UL);
	CHECK(KVM_S390_NORMAL_RESET, 0xAEC3UL);
	CHECK(KVM_S390_CLEAR_RESET, 0xAEC4UL);
	CHECK(KVM_S390_MEM_OP, 0x4040AEB1UL);
	CHECK(KVM_CREATE_GUEST_MEMFD, 0xC040AED4UL);
	CHECK(KVM_SET_USER_MEMORY_REGION2, 0x40A0AE49UL);
	CHECK(KVM_SET_MEMORY_ATTRIBUTES, 0x4020AED2UL);

	/* encoding fields of one number, decoded with the portable decoders */
	CHECK(S390PV_IOC_DIR(KVM_S390_PV_COMMAND), S390PV_IOC_READ | S390PV_IOC_WRITE);
	CHECK(S390PV_IOC_SIZE(KVM_S390_PV_COMMAND), sizeof(struct kvm_pv_cmd));
	CHECK(S390PV_IOC_TYPE(KVM_S390_PV_COMMAND), KVMIO);
	CHECK(S390PV_IOC_NR(KVM_S390_PV_COMMAND), 0xC5);

	/* every Swift-visible constant against its macro */
	CHECK_PAIR(KVM_GET_API_VERSION);
	CHECK_PAIR(KVM_CREATE_VM);
	CHECK_PAIR(KVM_CHECK_EXTENSION);
	CHECK_PAIR(KVM_GET_VCPU_MMAP_SIZE);
	CHECK_PAIR(KVM_S390_ENABLE_SIE);
	CHECK_PAIR(KVM_CREATE_VCPU);
	CHECK_PAIR(KVM_SET_USER_MEMORY_REGION);
	CHECK_PAIR(KVM_SET_USER_MEMORY_REGION2);
	CHECK_PAIR(KVM_S390_INTERRUPT);
	CHECK_PAIR(KVM_ENABLE_CAP);
	CHECK_PAIR(KVM_S390_MEM_OP);
	CHECK_PAIR(KVM_S390_GET_SKEYS);
	CHECK_PAIR(KVM_S390_SET_SKEYS);
	CHECK_PAIR(KVM_S390_PV_COMMAND);
	CHECK_PAIR(KVM_SET_MEMORY_ATTRIBUTES);
	CHECK_PAIR(KVM_CREATE_GUEST_MEMFD);
	CHECK_PAIR(KVM_CREATE_DEVICE);
	CHECK_PAIR(KVM_SET_DEVICE_ATTR);
	CHECK_PAIR(KVM_GET_DEVICE_ATTR);
	CHECK_PAIR(KVM_HAS_DEVICE_ATTR);
	CHECK_PAIR(KVM_RUN);
	CHECK_PAIR(KVM_GET_REGS);
	CHECK_PAIR(KVM_SET_REGS);
	CHECK_PAIR(KVM_GET_SREGS);
	CHECK_PAIR(KVM_SET_SREGS);
	CHECK_PAIR(KVM_GET_FPU);
	CHECK_PAIR(KVM_SET_FPU);
	CHECK_PAIR(KVM_S390_STORE_STATUS);
	CHECK_PAIR(KVM_S390_SET_INITIAL_PSW);
	CHECK_PAIR(KVM_S390_INITIAL_RESET);
	CHECK_PAIR(KVM_GET_MP_STATE);
	CHECK_PAIR(KVM_SET_MP_STATE);
	CHECK_PAIR(KVM_SET_GUEST_DEBUG);
	CHECK_PAIR(KVM_GET_ONE_REG);
	CHECK_PAIR(KVM_SET_ONE_REG);
	CHECK_PAIR(KVM_S390_IRQ);
	CHECK_PAIR(KVM_S390_SET_IRQ_STATE);
	CHECK_PAIR(KVM_S390_GET_IRQ_STATE);
	CHECK_PAIR(KVM_S390_NORMAL_RESET);
	CHECK_PAIR(KVM_S390_CLEAR_RESET);
	CHECK_PAIR(KVM_S390_PV_CPU_COMMAND);

	/* a few constants from the spec */
	CHECK(KVM_CAP_S390_PROTECTED, 180);
	CHECK(KVM_CAP_S390_PROTECTED_DUMP, 217);
	CHECK(KVM_CAP_S390_PROTECTED_ASYNC_DISABLE, 224);
	CHECK(KVM_CAP_S390_VCPU_RESETS, 179);
	CHECK(KVM_CAP_USER_MEMORY2, 231);
	CHECK(KVM_CAP_GUEST_MEMFD, 234);
	CHECK(KVM_CAP_GUEST_MEMFD_FLAGS, 244);
	CHECK(KVM_MP_STATE_STOPPED, 5);
	CHECK(KVM_MP_STATE_LOAD, 8);
	CHECK(KVM_MEM_GUEST_MEMFD, 4);
	CHECK(KVM_MEMORY_ATTRIBUTE_PRIVATE, 8);
	CHECK(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, 3);
	CHECK(KVM_S390_INT_IO(1, 0xfe, 0, 0x1234), 0x07F81234UL);

	/* the key sizes (also static-asserted in the header) */
	CHECK(sizeof(struct kvm_run), 2368);
	CHECK(sizeof(struct kvm_sync_regs), 1984);
	CHECK(sizeof(struct kvm_pv_cmd), 32);
	CHECK(sizeof(struct kvm_s390_mem_op), 64);
	CHECK(sizeof(struct kvm_s390_irq), 72);

	/* bit-fields: the byte/u64 must hold the value s390x sees */
	{
		struct kvm_sync_regs regs;
		const unsigned char *bytes = (const unsigned char *)&regs;
		memset(&regs, 0, sizeof(regs));
		regs.bpbc = 1;
		CHECK(bytes[offsetof(struct kvm_sync_regs, fpc) + 4], 0x80);

		struct kvm_s390_vm_cpu_uv_feat feat;
		memset(&feat, 0, sizeof(feat));
		feat.ap = 1;
		CHECK(feat.feat, S390PV_UV_FEAT_AP);
		feat.ap = 0;
		feat.ap_intr = 1;
		CHECK(feat.feat, S390PV_UV_FEAT_AP_INTR);
	}

	printf("abi_layout: %u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
