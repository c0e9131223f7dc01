/* CRC-32 with the IEEE polynomial (reflected 0xEDB88320), the checksum of
 * zlib's crc32() and of GitLab's trace `output.checksum`.
 *
 * Chainable like zlib's: start from 0 and feed the bytes in any chunking,
 *   crc = lunar_crc32_update(0, a, na); crc = lunar_crc32_update(crc, b, nb);
 * gives the CRC of a followed by b. Pure; the table is built once at load.
 */
#ifndef LUNAR_UTIL_CRC32_H
#define LUNAR_UTIL_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t lunar_crc32_update(uint32_t crc, const void *data, size_t len);

#endif
