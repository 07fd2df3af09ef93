/* <linux/kvm.h> as an s390x program sees it, for C programs built on this host against s390pv. */
#include "s390pv_kvm.h"
