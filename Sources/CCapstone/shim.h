// Capstone for Swift. pkg-config adds -I/usr/include/capstone (Debian); the header itself
// lives at <capstone/capstone.h> under the default include path on every distribution.
#include <capstone/capstone.h>
