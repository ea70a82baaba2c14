/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Running a bpf_iter program and collecting its fixed-size records. */
#ifndef PORTLIFE_ITER_H
#define PORTLIFE_ITER_H

#include <stddef.h>
#include <bpf/libbpf.h>

/*
 * A growable array of elem-sized elements: v[0..n) used, room for cap.
 * Zero-initialise it; free(v) when done.
 */
struct vec {
	void *v;
	size_t n, cap;
};

/* A zeroed new element at the end of vec, or NULL when out of memory. */
void *vec_push(struct vec *vec, size_t elem);

/*
 * Runs link's iterator once (in the calling thread's network namespace, for
 * the tcp/udp iterators) and appends each rec_size-byte record to vec as an
 * element of elem bytes (elem >= rec_size: the record is its first bytes,
 * the rest zeroed). Records arrive whole or split across reads; both work.
 * Returns 0 or -errno; what was read before an error stays in vec.
 */
int iter_collect(struct bpf_link *link, size_t rec_size, size_t elem, struct vec *vec);

#endif
