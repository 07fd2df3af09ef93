/*
 * Typed pointers into struct kvm_run's s390 sync registers. Swift imports C unions as computed
 * properties, so a field store through `run->s.regs` would copy the whole 2 KiB union; these
 * accessors give Swift the field addresses instead.
 */
#ifndef S390PV_KVM_ACCESS_H
#define S390PV_KVM_ACCESS_H

#include "s390pv_kvm.h"

static inline struct kvm_sync_regs *s390pv_sync_regs(struct kvm_run *run) { return &run->s.regs; }
static inline __u64 *s390pv_sync_gprs(struct kvm_run *run) { return run->s.regs.gprs; }
static inline __u32 *s390pv_sync_acrs(struct kvm_run *run) { return run->s.regs.acrs; }
static inline __u64 *s390pv_sync_crs(struct kvm_run *run) { return run->s.regs.crs; }
static inline __u64 *s390pv_sync_fprs(struct kvm_run *run) { return run->s.regs.fprs; }

#endif
