// libelf (elfutils) for Swift: <libelf.h> plus the class-independent <gelf.h> API.
#include <libelf.h>
#include <gelf.h>
