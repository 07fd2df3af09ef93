// Kernel model (written next).
