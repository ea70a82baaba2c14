// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "iter.h"

void *vec_push(struct vec *vec, size_t elem)
{
	void *slot;

	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 256;
		void *nv = realloc(vec->v, cap * elem);

		if (!nv)
			return NULL;
		vec->v = nv;
		vec->cap = cap;
	}
	slot = (char *)vec->v + vec->n++ * elem;
	memset(slot, 0, elem);
	return slot;
}

int iter_collect(struct bpf_link *link, size_t rec_size, size_t elem, struct vec *vec)
{
	/* bpf_seq_write() keeps records whole, but a read may still end mid-record. */
	char buf[16384];
	size_t have = 0;
	ssize_t r;
	int fd, err = 0;

	if (!link || rec_size > elem || rec_size > sizeof(buf))
		return -EINVAL;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf + have, sizeof(buf) - have)) != 0) {
		size_t off = 0;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		have += r;
		for (; have - off >= rec_size; off += rec_size) {
			void *slot = vec_push(vec, elem);

			if (!slot) {
				err = -ENOMEM;
				goto out;
			}
			memcpy(slot, buf + off, rec_size);
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
out:
	close(fd);
	return err;
}
