#include "s390pv_fdtable.h"
#include <stdatomic.h>

static atomic_uchar owned[S390PV_MAX_FDS];

void s390pv_fd_set_owned(int fd, int value) {
    if (fd >= 0 && fd < S390PV_MAX_FDS) atomic_store_explicit(&owned[fd], value ? 1 : 0, memory_order_release);
}

int s390pv_fd_owned(int fd) {
    return fd >= 0 && fd < S390PV_MAX_FDS && atomic_load_explicit(&owned[fd], memory_order_acquire);
}
