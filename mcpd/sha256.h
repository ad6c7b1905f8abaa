/* SHA-256 (FIPS 180-4), for the manifest history's content hashes: no library needed for 100 lines. */
#ifndef MCPD_SHA256_H
#define MCPD_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN	64

/* The digest of len bytes at buf as 64 lowercase hex digits and a NUL (hex has 65 bytes). */
void sha256_hex(const void *buf, size_t len, char hex[SHA256_HEX_LEN + 1]);

#endif
