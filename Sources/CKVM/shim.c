// CKVM: C target for the s390 KVM uapi header (include/s390pv_kvm.h) and its helpers.
#include "s390pv_kvm.h"
