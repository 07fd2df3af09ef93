// OpenSSL libcrypto for Swift: the EVP cipher API (AES-256-XTS for Secure Execution components,
// spec se-image-format §1, §4).
#include <openssl/evp.h>
#include <openssl/err.h>
