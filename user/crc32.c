// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CRC-32 by slicing by eight: eight table lookups per eight bytes. A trace
 * record is 124 bytes framed in two pieces (magic, then the event), and
 * zlib's crc32() spent about 2 ns a byte on pieces that short: a quarter of
 * `portlife record`'s CPU in a connect storm. The unit test holds this one
 * to zlib's result for every length, alignment and split.
 */
#include <string.h>
#include "crc32.h"

#define CRC32_POLY 0xedb88320u	/* reflected 0x04c11db7 */

static uint32_t tab[8][256];

/* Before main(): the tracer's threads never see the tables half made. */
__attribute__((constructor)) static void crc32_tables(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? CRC32_POLY ^ (c >> 1) : c >> 1;
		tab[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			tab[k][n] = (tab[k - 1][n] >> 8) ^ tab[0][tab[k - 1][n] & 0xff];
}

uint32_t pl_crc32(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc;

	if (!len)
		return crc;	/* zlib's start value too: crc32(0, NULL, 0) is 0 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; len >= 8; p += 8, len -= 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = tab[7][lo & 0xff] ^ tab[6][(lo >> 8) & 0xff] ^ tab[5][(lo >> 16) & 0xff] ^
		    tab[4][lo >> 24] ^ tab[3][hi & 0xff] ^ tab[2][(hi >> 8) & 0xff] ^
		    tab[1][(hi >> 16) & 0xff] ^ tab[0][hi >> 24];
	}
#endif
	for (; len; p++, len--)
		c = tab[0][(c ^ *p) & 0xff] ^ (c >> 8);
	return ~c;
}
