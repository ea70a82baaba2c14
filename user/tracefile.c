// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "tracefile.h"

#define WBUF (64 * 1024)
#define REC_BYTES (4 + sizeof(struct pl_event) + 4)
#define END_BYTES (4 + sizeof(struct pl_file_trailer) + 4)

struct tracefile_writer {
	int fd;
	off_t good;		/* bytes known to be on disk, whole */
	size_t used;
	__u64 records;
	unsigned char buf[WBUF];
};

static __u32 crc(const void *a, size_t an, const void *b, size_t bn)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, a, an);
	return (__u32)crc32(c, b, bn);
}

/* write() all of buf, or put the file back to its last whole record. */
static int write_all(struct tracefile_writer *w, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = write(w->fd, p + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int err = r < 0 ? errno : ENOSPC;

			/* a short write leaves half a record: cut it off */
			if (ftruncate(w->fd, w->good))
				(void)0;
			lseek(w->fd, w->good, SEEK_SET);
			return -err;
		}
		done += r;
	}
	w->good += n;
	return 0;
}

int tracefile_flush(struct tracefile_writer *w)
{
	int err;

	if (!w->used)
		return 0;
	err = write_all(w, w->buf, w->used);
	if (err) {
		/* Disk full: keep as many whole records as still fit, one by one. */
		for (size_t off = 0; off + REC_BYTES <= w->used; off += REC_BYTES)
			if (write_all(w, w->buf + off, REC_BYTES))
				break;
	}
	w->used = 0;
	return err;
}

struct tracefile_writer *tracefile_create(const char *path, const struct pl_file_hdr *hdr)
{
	struct tracefile_writer *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return NULL;
	/* O_EXCL: never clobber, never follow a planted symlink; 0600: it names processes. */
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd < 0) {
		err = errno;
		free(w);
		errno = err;
		return NULL;
	}
	err = write_all(w, hdr, sizeof(*hdr));
	if (err) {
		close(w->fd);
		unlink(path);
		free(w);
		errno = -err;
		return NULL;
	}
	return w;
}

int tracefile_write(struct tracefile_writer *w, const struct pl_event *e)
{
	__u32 magic = PL_REC_MAGIC, c = crc(&magic, 4, e, sizeof(*e));
	int err = 0;

	if (w->used + REC_BYTES > WBUF)
		err = tracefile_flush(w);
	if (err)
		return err;
	memcpy(w->buf + w->used, &magic, 4);
	memcpy(w->buf + w->used + 4, e, sizeof(*e));
	memcpy(w->buf + w->used + 4 + sizeof(*e), &c, 4);
	w->used += REC_BYTES;
	w->records++;
	return 0;
}

__u64 tracefile_written(const struct tracefile_writer *w)
{
	return w->records;
}

int tracefile_close(struct tracefile_writer *w, const struct pl_file_trailer *t)
{
	unsigned char end[END_BYTES];
	__u32 magic = PL_END_MAGIC, c = crc(&magic, 4, t, sizeof(*t));
	int err, err2;

	if (!w)
		return -EINVAL;
	err = tracefile_flush(w);
	if (!err) {
		memcpy(end, &magic, 4);
		memcpy(end + 4, t, sizeof(*t));
		memcpy(end + 4 + sizeof(*t), &c, 4);
		err = write_all(w, end, sizeof(end));
	}
	if (!err && fsync(w->fd))
		err = -errno;
	err2 = close(w->fd) ? -errno : 0;
	free(w);
	return err ? err : err2;
}

/* ---- reading --------------------------------------------------------- */

static bool event_sane(const struct pl_event *e)
{
	return e->type >= PL_EV_ALLOC && e->type < PL_EV_MAX &&
	       (e->family == AF_INET || e->family == AF_INET6) &&
	       (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP) &&
	       e->err >= 0 && e->err < 4096;
}

static void problem(struct tracefile_info *info, const char *fmt, unsigned long long off,
		    const char *what)
{
	if (!info->error[0])
		snprintf(info->error, sizeof(info->error), fmt, off, what);
}

int tracefile_read(FILE *f, bool salvage, tracefile_fn fn, void *ctx, struct tracefile_info *info)
{
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, pos;
	struct pl_file_hdr *h = &info->hdr;
	size_t n;
	int err = 0;

	memset(info, 0, sizeof(*info));
	/* Traces are read whole: simple, and bounds are then plain arithmetic. */
	for (;;) {
		if (len == cap) {
			unsigned char *nb;

			cap = cap ? cap * 2 : 1 << 20;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				snprintf(info->error, sizeof(info->error),
					 "out of memory reading %zu bytes", len);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(info->error, sizeof(info->error), "read error after %zu bytes", len);
		free(buf);
		return -EIO;
	}

	if (len < sizeof(*h)) {
		snprintf(info->error, sizeof(info->error),
			 len ? "truncated header: %zu of %zu bytes" : "empty file (%zu of %zu bytes)",
			 len, sizeof(*h));
		free(buf);
		return -EINVAL;
	}
	memcpy(h, buf, sizeof(*h));
	if (memcmp(h->magic, PL_FILE_MAGIC, 8)) {
		snprintf(info->error, sizeof(info->error),
			 "not a portlife trace: bad magic at offset 0");
		free(buf);
		return -EINVAL;
	}
	if (h->version > PL_FILE_VERSION) {
		snprintf(info->error, sizeof(info->error),
			 "trace format version %u is newer than this portlife's %u: upgrade portlife",
			 h->version, PL_FILE_VERSION);
		free(buf);
		return -EINVAL;
	}
	if (h->version < 1 || h->hdr_size != sizeof(*h) || h->rec_size != sizeof(struct pl_event)) {
		snprintf(info->error, sizeof(info->error),
			 "corrupt header at offset 8: version %u, header %u bytes, record %u bytes",
			 h->version, h->hdr_size, h->rec_size);
		free(buf);
		return -EINVAL;
	}
	/* Strings come from a file: make sure they end. */
	h->hostname[sizeof(h->hostname) - 1] = '\0';
	h->release[sizeof(h->release) - 1] = '\0';
	h->mode[sizeof(h->mode) - 1] = '\0';
	h->precision[sizeof(h->precision) - 1] = '\0';
	h->filters[sizeof(h->filters) - 1] = '\0';

	pos = sizeof(*h);
	while (pos < len) {
		__u32 magic, c;
		struct pl_event e;
		struct pl_file_trailer t;

		if (len - pos < 4)
			goto truncated;
		memcpy(&magic, buf + pos, 4);
		if (magic == PL_REC_MAGIC) {
			if (len - pos < REC_BYTES)
				goto truncated;
			memcpy(&e, buf + pos + 4, sizeof(e));
			memcpy(&c, buf + pos + 4 + sizeof(e), 4);
			if (c != crc(&magic, 4, &e, sizeof(e)) || !event_sane(&e)) {
				problem(info, "corrupt record at offset %llu%s", pos,
					c != crc(&magic, 4, &e, sizeof(e)) ? " (checksum)" : " (values)");
				goto damaged;
			}
			e.comm[PL_COMM_LEN - 1] = '\0';
			fn(ctx, &e);
			info->records++;
			pos += REC_BYTES;
			continue;
		}
		if (magic == PL_END_MAGIC) {
			if (len - pos < END_BYTES)
				goto truncated;
			memcpy(&t, buf + pos + 4, sizeof(t));
			memcpy(&c, buf + pos + 4 + sizeof(t), 4);
			if (c != crc(&magic, 4, &t, sizeof(t))) {
				problem(info, "corrupt trailer at offset %llu%s", pos, "");
				goto damaged;
			}
			info->trailer = t;
			info->has_trailer = true;
			pos += END_BYTES;
			if (pos != len) {
				problem(info, "%llu bytes of junk after the trailer%s",
					(unsigned long long)(len - pos), "");
				if (!salvage)
					err = -EINVAL;
				info->skipped_bytes += len - pos;
			}
			break;
		}
		problem(info, "corrupt data at offset %llu%s: no record starts here", pos, "");
damaged:
		if (!salvage) {
			err = -EINVAL;
			break;
		}
		/* Resync: the next offset where a record or the trailer magic starts. */
		info->damaged++;
		{
			size_t next = pos + 1;

			while (next + 4 <= len) {
				memcpy(&magic, buf + next, 4);
				if (magic == PL_REC_MAGIC || magic == PL_END_MAGIC)
					break;
				next++;
			}
			if (next + 4 > len)
				next = len;
			info->skipped_bytes += next - pos;
			pos = next;
		}
		continue;
truncated:
		problem(info, "truncated record at offset %llu%s", pos,
			" (the recorder stopped mid-write? --salvage reads the complete records)");
		if (!salvage)
			err = -EINVAL;
		else {
			info->damaged++;
			info->skipped_bytes += len - pos;
		}
		break;
	}
	free(buf);
	return err;
}
