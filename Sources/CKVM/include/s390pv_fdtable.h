// Which file descriptors belong to the s390pv kernel model. Kept in C, lock-free, so the
// LD_PRELOAD shim can decide for any fd without calling into Swift (the Swift runtime itself
// opens and closes files through the interposed functions).
#ifndef S390PV_FDTABLE_H
#define S390PV_FDTABLE_H

/// Descriptors at or above this value are never the model's.
#define S390PV_MAX_FDS 65536

/// Marks `fd` as the model's (1) or not (0).
void s390pv_fd_set_owned(int fd, int owned);
/// 1 if `fd` is one the model handed out.
int s390pv_fd_owned(int fd);

#endif
