/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __PL_CRC32_H
#define __PL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32 of IEEE 802.3, the one zlib's crc32() computes, and called the
 * same way: pl_crc32(0, NULL, 0) is the start value, and a CRC carries over
 * from one call to the next. Trace files frame every record with it.
 */
uint32_t pl_crc32(uint32_t crc, const void *buf, size_t len);

#endif /* __PL_CRC32_H */
