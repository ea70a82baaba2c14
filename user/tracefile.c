// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "crc32.h"
#include "tracefile.h"

#define WBUF (64 * 1024)
#define REC_BYTES TRACEFILE_REC_BYTES
#define END_BYTES TRACEFILE_END_BYTES

struct tracefile_writer {
	int fd;
	int err;		/* the first write error: nothing is accepted after it */
	off_t good;		/* bytes known to be on disk, whole */
	size_t used;
	__u64 pending;		/* event records in buf */
	__u64 records;		/* whole event records on disk */
	unsigned char buf[WBUF];
};

static __u32 crc(const void *a, size_t an, const void *b, size_t bn)
{
	return pl_crc32(pl_crc32(0, a, an), b, bn);
}

static void frame(unsigned char *out, __u32 magic, const void *body, size_t n)
{
	__u32 c = crc(&magic, 4, body, n);

	memcpy(out, &magic, 4);
	memcpy(out + 4, body, n);
	memcpy(out + 4 + n, &c, 4);
}

void tracefile_frame_record(unsigned char out[TRACEFILE_REC_BYTES], const struct pl_event *e)
{
	frame(out, PL_REC_MAGIC, e, sizeof(*e));
}

void tracefile_frame_trailer(unsigned char out[TRACEFILE_END_BYTES],
			     const struct pl_file_trailer *t)
{
	frame(out, PL_END_MAGIC, t, sizeof(*t));
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

/* The size of the framed unit at p (an event or a cgroup path record). */
static size_t unit_bytes(const unsigned char *p)
{
	struct pl_cgroup_rec cg;
	__u32 magic;

	memcpy(&magic, p, 4);
	if (magic == PL_NAT_MAGIC)
		return TRACEFILE_NAT_BYTES;
	if (magic != PL_CG_MAGIC && magic != PL_CN_MAGIC)
		return REC_BYTES;
	memcpy(&cg, p + 4, sizeof(cg));
	return 4 + sizeof(cg) + cg.len + 4;
}

int tracefile_flush(struct tracefile_writer *w)
{
	int err;

	if (w->err || !w->used)
		return w->err;
	err = write_all(w, w->buf, w->used);
	if (!err) {
		w->records += w->pending;
	} else {
		/* Disk full: keep as many whole units as still fit, one by one. */
		for (size_t off = 0, n; off < w->used; off += n) {
			n = unit_bytes(w->buf + off);
			if (write_all(w, w->buf + off, n))
				break;
			/* event records only: a NAT record has the same size */
			w->records += !memcmp(w->buf + off, &(__u32){ PL_REC_MAGIC }, 4);
		}
		w->err = err;
	}
	w->used = 0;
	w->pending = 0;
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
	int err = w->err;

	if (!err && w->used + REC_BYTES > WBUF)
		err = tracefile_flush(w);
	if (err)
		return err;
	tracefile_frame_record(w->buf + w->used, e);
	w->used += REC_BYTES;
	w->pending++;
	return 0;
}

/* A cgroup record: magic, id and length, len bytes of data, CRC-32 of them all. */
static int write_cg_rec(struct tracefile_writer *w, __u32 magic, __u64 id, const char *data,
			size_t len)
{
	struct pl_cgroup_rec r = { .id = id, .len = len };
	size_t n = 4 + sizeof(r) + r.len + 4;
	__u32 c;
	int err = w->err;

	if (!err && w->used + n > WBUF)
		err = tracefile_flush(w);
	if (err)
		return err;
	memcpy(w->buf + w->used, &magic, 4);
	memcpy(w->buf + w->used + 4, &r, sizeof(r));
	if (r.len)
		memcpy(w->buf + w->used + 4 + sizeof(r), data, r.len);
	/* over the bytes as framed, as the reader checks them */
	c = pl_crc32(0, w->buf + w->used, n - 4);
	memcpy(w->buf + w->used + n - 4, &c, 4);
	w->used += n;
	return 0;
}

int tracefile_write_cgroup(struct tracefile_writer *w, __u64 id, const char *path)
{
	return write_cg_rec(w, PL_CG_MAGIC, id, path, path ? strnlen(path, PL_CGPATH_MAX) : 0);
}

int tracefile_write_names(struct tracefile_writer *w, __u64 id, const char *ns, const char *pod,
			  const char *container)
{
	char buf[PL_CGNAMES_MAX];
	int n = snprintf(buf, sizeof(buf), "%.*s%c%.*s%c%.*s", PL_CGNAME_MAX, ns, 0,
			 PL_CGNAME_MAX, pod, 0, PL_CGNAME_MAX, container);

	return write_cg_rec(w, PL_CN_MAGIC, id, buf, n < 0 ? 0 : (size_t)n);
}

int tracefile_write_nat(struct tracefile_writer *w, const struct pl_nat_rec *n)
{
	int err = w->err;

	if (!err && w->used + TRACEFILE_NAT_BYTES > WBUF)
		err = tracefile_flush(w);
	if (err)
		return err;
	frame(w->buf + w->used, PL_NAT_MAGIC, n, sizeof(*n));
	w->used += TRACEFILE_NAT_BYTES;
	return 0;
}

int tracefile_write_clock(struct tracefile_writer *w, __u64 ts_ns, __u64 wall_off_ns)
{
	struct pl_clock_rec c = { .ts_ns = ts_ns, .wall_off_ns = wall_off_ns };
	int err = w->err;

	if (!err && w->used + TRACEFILE_CK_BYTES > WBUF)
		err = tracefile_flush(w);
	if (err)
		return err;
	frame(w->buf + w->used, PL_CK_MAGIC, &c, sizeof(c));
	w->used += TRACEFILE_CK_BYTES;
	return 0;
}

__u64 tracefile_written(const struct tracefile_writer *w)
{
	return w->records + w->pending;
}

size_t tracefile_buffered(const struct tracefile_writer *w)
{
	return w->used;
}

int tracefile_close(struct tracefile_writer *w, const struct pl_file_trailer *t)
{
	unsigned char end[END_BYTES];
	struct pl_file_trailer tt;
	int err, earlier, err2;

	if (!w)
		return -EINVAL;
	earlier = w->err;
	err = tracefile_flush(w);
	/*
	 * After an earlier error the trailer still goes in if it fits: it keeps
	 * the drop counts and says records were lost. After a failure in this
	 * flush it does not: the caller reports a file without a trailer.
	 */
	if (!err || earlier) {
		tt = *t;
		tt.records = w->records;
		if (w->err && !tt.write_errors)
			tt.write_errors = 1;
		tracefile_frame_trailer(end, &tt);
		err2 = write_all(w, end, sizeof(end));
		if (!err)
			err = err2;
	}
	if (!err && fsync(w->fd))
		err = -errno;
	err2 = close(w->fd) ? -errno : 0;
	free(w);
	return err ? err : err2;
}

/* ---- reading --------------------------------------------------------- */

/*
 * The reader sees the file through one window of fixed size: buf[lo..hi)
 * holds the bytes from file offset off on. Records are handed out as they
 * are read, so neither memory nor the time to the first error grows with
 * the file (`report /dev/zero` used to read until memory ran out).
 */
struct window {
	FILE *f;
	unsigned char *buf;
	size_t size, lo, hi;
	__u64 off;
	bool eof;
	int err;		/* errno of a failed read */
};

/* The window must hold the largest unit read at once: a cgroup path record. */
#define CG_MAX_BYTES (4 + sizeof(struct pl_cgroup_rec) + PL_CGPATH_MAX + 4)
#define MIN_WINDOW CG_MAX_BYTES
_Static_assert(MIN_WINDOW >= REC_BYTES && MIN_WINDOW >= END_BYTES &&
	       MIN_WINDOW >= sizeof(struct pl_file_hdr), "window below a record");

/* Bytes available at the window's start, up to n; fewer only at the end or on an error. */
static size_t win_need(struct window *w, size_t n)
{
	if (w->hi - w->lo < n && !w->eof) {
		memmove(w->buf, w->buf + w->lo, w->hi - w->lo);
		w->hi -= w->lo;
		w->lo = 0;
		while (w->hi < n && !w->eof) {
			size_t got;

			errno = 0;
			got = fread(w->buf + w->hi, 1, w->size - w->hi, w->f);
			if (!got && ferror(w->f))
				w->err = errno ? errno : EIO;
			w->eof = !got;
			w->hi += got;
		}
	}
	return w->hi - w->lo < n ? w->hi - w->lo : n;
}

static const unsigned char *win_at(const struct window *w)
{
	return w->buf + w->lo;
}

static void win_skip(struct window *w, size_t n)
{
	w->lo += n;
	w->off += n;
}

/* The first place in p[0..n) where a record or the trailer magic starts, or NULL. */
static const unsigned char *find_magic(const unsigned char *p, size_t n)
{
	static const __u32 magic[] = { PL_REC_MAGIC, PL_END_MAGIC, PL_CG_MAGIC, PL_CN_MAGIC,
					 PL_NAT_MAGIC, PL_CK_MAGIC };
	const unsigned char *end = p + n;

	/*
	 * memchr goes through long runs of other bytes (a sparse file's zeros)
	 * at memory speed: all the magics start with 'P'.
	 */
	_Static_assert((PL_REC_MAGIC & 0xff) == 'P' && (PL_END_MAGIC & 0xff) == 'P' &&
		       (PL_CG_MAGIC & 0xff) == 'P' && (PL_CN_MAGIC & 0xff) == 'P' &&
		       (PL_NAT_MAGIC & 0xff) == 'P' && (PL_CK_MAGIC & 0xff) == 'P',
		       "magics start with P");
	while (end - p >= 4) {
		const unsigned char *q = memchr(p, 'P', end - 3 - p);

		if (!q)
			return NULL;
		for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
			if (!memcmp(q, &magic[i], 4))
				return q;
		p = q + 1;
	}
	return NULL;
}

/*
 * Past damage at the window's start: skip to the next record or trailer
 * magic, or to the end. The last 3 bytes of a window stay for the next
 * one, so a magic astride two windows is still found. Returns bytes skipped.
 */
static __u64 resync(struct window *w)
{
	__u64 skipped = 1;

	win_skip(w, 1);
	for (;;) {
		size_t n = win_need(w, 4), avail = w->hi - w->lo;
		const unsigned char *q;

		if (n < 4) {
			win_skip(w, avail);
			return skipped + avail;
		}
		q = find_magic(win_at(w), avail);
		if (q) {
			size_t k = q - win_at(w);

			win_skip(w, k);
			return skipped + k;
		}
		win_skip(w, avail - 3);
		skipped += avail - 3;
	}
}

/* Read to the end; returns how many bytes there were. */
static __u64 drain(struct window *w)
{
	__u64 n = 0;

	while (win_need(w, w->size)) {
		n += w->hi - w->lo;
		win_skip(w, w->hi - w->lo);
	}
	return n;
}

static void problem(struct tracefile_info *info, const char *fmt, unsigned long long off,
		    const char *what)
{
	if (!info->error[0])
		snprintf(info->error, sizeof(info->error), fmt, off, what);
}

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a file";
}

/*
 * A trace is a regular file. A device or a FIFO may never end (/dev/zero)
 * and cannot be read twice; refuse it before reading a byte. Memory streams
 * (no descriptor) have an end and are let through.
 */
static int check_file(FILE *f, struct tracefile_info *info)
{
	struct stat st;
	int fd = fileno(f), err;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st)) {
		err = errno;
		snprintf(info->error, sizeof(info->error), "cannot stat the trace: %s",
			 strerror(err));
		return -err;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	snprintf(info->error, sizeof(info->error),
		 "not a regular file (%s): give the file `portlife record -o FILE` wrote",
		 file_kind(st.st_mode));
	return -EINVAL;
}

static int read_error(struct window *w, struct tracefile_info *info)
{
	snprintf(info->error, sizeof(info->error), "read error at offset %llu: %s",
		 (unsigned long long)w->off, strerror(w->err));
	return -EIO;
}

/* The header, checked whole before any record is looked at. */
static int read_header(struct window *w, struct tracefile_info *info)
{
	struct pl_file_hdr *h = &info->hdr;
	size_t n = win_need(w, sizeof(*h));

	if (w->err)
		return read_error(w, info);
	if (n < sizeof(*h)) {
		snprintf(info->error, sizeof(info->error),
			 n ? "truncated header: %zu of %zu bytes" : "empty file (%zu of %zu bytes)",
			 n, sizeof(*h));
		return -EINVAL;
	}
	memcpy(h, win_at(w), sizeof(*h));
	if (memcmp(h->magic, PL_FILE_MAGIC, 8)) {
		snprintf(info->error, sizeof(info->error),
			 "not a portlife trace: bad magic at offset 0");
		return -EINVAL;
	}
	if (h->version > PL_FILE_VERSION) {
		snprintf(info->error, sizeof(info->error),
			 "trace format version %u is newer than this portlife's %u: upgrade portlife",
			 h->version, PL_FILE_VERSION);
		return -EINVAL;
	}
	if (h->version < 1 || h->hdr_size != sizeof(*h) || h->rec_size != sizeof(struct pl_event)) {
		snprintf(info->error, sizeof(info->error),
			 "corrupt header at offset 8: version %u, header %u bytes, record %u bytes",
			 h->version, h->hdr_size, h->rec_size);
		return -EINVAL;
	}
	/* Strings come from a file: make them end. Printing them safely is the printer's job. */
	h->hostname[sizeof(h->hostname) - 1] = '\0';
	h->release[sizeof(h->release) - 1] = '\0';
	h->mode[sizeof(h->mode) - 1] = '\0';
	h->precision[sizeof(h->precision) - 1] = '\0';
	h->filters[sizeof(h->filters) - 1] = '\0';
	win_skip(w, sizeof(*h));
	return 0;
}

bool tracefile_event_sane(const struct pl_event *e)
{
	return e->type >= PL_EV_ALLOC && e->type < PL_EV_MAX &&
	       (e->family == AF_INET || e->family == AF_INET6) &&
	       (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP) &&
	       e->err >= 0 && e->err < 4096;
}

bool tracefile_nat_sane(const struct pl_nat_rec *n)
{
	bool count_only = n->flags & PL_NATF_COUNT_ONLY;

	if (n->kind < PL_NAT_NEW || n->kind >= PL_NAT_MAX || (n->flags & ~PL_NATF_ALL) ||
	    n->pad || n->range_lo > n->range_hi)
		return false;
	/* a drop with its port free is a failure with a tuple, and only that */
	if ((n->flags & (PL_NATF_NO_CLASH | PL_NATF_SAME_FLOW)) &&
	    (n->kind != PL_NAT_FAIL || count_only ||
	     (n->flags & (PL_NATF_NO_CLASH | PL_NATF_SAME_FLOW)) ==
	     (PL_NATF_NO_CLASH | PL_NATF_SAME_FLOW)))
		return false;
	if (count_only)
		return n->kind == PL_NAT_FAIL && n->n && !n->family && !n->proto;
	return (n->family == AF_INET || n->family == AF_INET6) &&
	       (n->proto == IPPROTO_TCP || n->proto == IPPROTO_UDP) &&
	       (n->kind == PL_NAT_FAIL ? n->n == 1 : !n->n);
}

/* Records up to the trailer or the end. */
static int read_records(struct window *w, bool salvage, tracefile_fn fn, tracefile_cgroup_fn cg,
			tracefile_nat_fn nat, tracefile_clock_fn clock, void *ctx,
			struct tracefile_info *info)
{
	for (;;) {
		unsigned long long pos = w->off;
		size_t n = win_need(w, 4);
		__u32 magic, c;

		if (w->err)
			return read_error(w, info);
		if (!n)
			return 0;	/* no trailer: the recorder was stopped hard */
		if (n < 4)
			goto truncated;
		memcpy(&magic, win_at(w), 4);
		if (magic == PL_REC_MAGIC) {
			struct pl_event e;
			bool sum_ok;

			if (win_need(w, REC_BYTES) < REC_BYTES)
				goto truncated;
			memcpy(&e, win_at(w) + 4, sizeof(e));
			memcpy(&c, win_at(w) + 4 + sizeof(e), 4);
			sum_ok = c == crc(&magic, 4, &e, sizeof(e));
			if (!sum_ok || !tracefile_event_sane(&e)) {
				problem(info, "corrupt record at offset %llu%s", pos,
					sum_ok ? " (values)" : " (checksum)");
				goto damaged;
			}
			win_skip(w, REC_BYTES);
			e.comm[PL_COMM_LEN - 1] = '\0';
			fn(ctx, &e);
			info->records++;
			continue;
		}
		if (magic == PL_NAT_MAGIC && info->hdr.version >= 5) {
			struct pl_nat_rec n;

			if (win_need(w, TRACEFILE_NAT_BYTES) < TRACEFILE_NAT_BYTES)
				goto truncated;
			memcpy(&n, win_at(w) + 4, sizeof(n));
			memcpy(&c, win_at(w) + 4 + sizeof(n), 4);
			if (c != crc(&magic, 4, &n, sizeof(n)) || !tracefile_nat_sane(&n)) {
				problem(info, "corrupt NAT record at offset %llu%s", pos,
					c != crc(&magic, 4, &n, sizeof(n)) ? " (checksum)" : " (values)");
				goto damaged;
			}
			win_skip(w, TRACEFILE_NAT_BYTES);
			n.comm[PL_COMM_LEN - 1] = '\0';
			if (nat)
				nat(ctx, &n);
			continue;
		}
		if (magic == PL_CK_MAGIC && info->hdr.version >= 7) {
			struct pl_clock_rec k;

			if (win_need(w, TRACEFILE_CK_BYTES) < TRACEFILE_CK_BYTES)
				goto truncated;
			memcpy(&k, win_at(w) + 4, sizeof(k));
			memcpy(&c, win_at(w) + 4 + sizeof(k), 4);
			if (c != crc(&magic, 4, &k, sizeof(k))) {
				problem(info, "corrupt clock record at offset %llu%s", pos,
					" (checksum)");
				goto damaged;
			}
			win_skip(w, TRACEFILE_CK_BYTES);
			if (clock)
				clock(ctx, &k);
			continue;
		}
		if ((magic == PL_CG_MAGIC && info->hdr.version >= 2) ||
		    (magic == PL_CN_MAGIC && info->hdr.version >= 4)) {
			bool names = magic == PL_CN_MAGIC;
			const char *bad = names ? "corrupt names record at offset %llu%s"
						: "corrupt cgroup record at offset %llu%s";
			struct pl_cgroup_rec r;
			char data[PL_CGPATH_MAX + 1];
			const char *a[3] = { data, "", "" };
			size_t k;

			if (win_need(w, 4 + sizeof(r)) < 4 + sizeof(r))
				goto truncated;
			memcpy(&r, win_at(w) + 4, sizeof(r));
			if (r.len > (names ? PL_CGNAMES_MAX - 1 : PL_CGPATH_MAX) || r.pad) {
				problem(info, bad, pos, " (length)");
				goto damaged;
			}
			k = 4 + sizeof(r) + r.len;
			if (win_need(w, k + 4) < k + 4)
				goto truncated;
			memcpy(&c, win_at(w) + k, 4);
			if (c != crc(win_at(w), 4 + sizeof(r), win_at(w) + 4 + sizeof(r), r.len)) {
				problem(info, bad, pos, " (checksum)");
				goto damaged;
			}
			memcpy(data, win_at(w) + 4 + sizeof(r), r.len);
			data[r.len] = '\0';
			win_skip(w, k + 4);
			if (names) {
				/* three names, NUL-separated; a record with fewer names the rest "" */
				char *z = memchr(data, '\0', r.len);

				if (z && z < data + r.len) {
					a[1] = z + 1;
					z = memchr(a[1], '\0', data + r.len - a[1]);
					if (z && z < data + r.len)
						a[2] = z + 1;
				}
			}
			if (cg)
				cg(ctx, r.id, names ? TRACEFILE_CG_NAMES : TRACEFILE_CG_PATH, a);
			continue;
		}
		if (magic == PL_END_MAGIC) {
			/* the trailer grew in version 3: read what the file's version wrote */
			bool v2 = info->hdr.version < 3;
			size_t body = v2 ? sizeof(struct pl_file_trailer_v2) : sizeof(info->trailer);
			unsigned char raw[sizeof(info->trailer)];
			__u64 junk;

			if (win_need(w, 4 + body + 4) < 4 + body + 4)
				goto truncated;
			memcpy(raw, win_at(w) + 4, body);
			memcpy(&c, win_at(w) + 4 + body, 4);
			if (c != crc(&magic, 4, raw, body)) {
				problem(info, "corrupt trailer at offset %llu%s", pos, "");
				goto damaged;
			}
			memset(&info->trailer, 0, sizeof(info->trailer));
			if (v2) {
				struct pl_file_trailer_v2 t2;

				memcpy(&t2, raw, sizeof(t2));
				info->trailer.end_ns = t2.end_ns;
				info->trailer.records = t2.records;
				memcpy(info->trailer.drops, t2.drops, sizeof(t2.drops));
				info->trailer.recursion_misses = t2.recursion_misses;
				info->trailer.write_errors = t2.write_errors;
			} else {
				memcpy(&info->trailer, raw, body);
			}
			win_skip(w, 4 + body + 4);
			info->has_trailer = true;
			junk = drain(w);
			if (w->err)
				return read_error(w, info);
			if (!junk)
				return 0;
			problem(info, "%llu bytes of junk after the trailer%s", junk, "");
			info->skipped_bytes += junk;
			return salvage ? 0 : -EINVAL;
		}
		problem(info, "corrupt data at offset %llu%s: no record starts here", pos, "");
damaged:
		if (!salvage)
			return -EINVAL;
		info->damaged++;
		info->skipped_bytes += resync(w);
		continue;
truncated:
		if (w->err)
			return read_error(w, info);
		problem(info, "truncated record at offset %llu%s", pos,
			" (the recorder stopped mid-write? --salvage reads the complete records)");
		if (!salvage)
			return -EINVAL;
		info->damaged++;
		info->skipped_bytes += w->hi - w->lo;
		return 0;
	}
}

static int read_all(FILE *f, size_t window, bool salvage, tracefile_fn fn, tracefile_cgroup_fn cg,
		    tracefile_nat_fn nat, tracefile_clock_fn clock, void *ctx,
		    struct tracefile_info *info)
{
	struct window w = { .f = f, .size = window < MIN_WINDOW ? MIN_WINDOW : window };
	int err;

	memset(info, 0, sizeof(*info));
	err = check_file(f, info);
	if (err)
		return err;
	w.buf = malloc(w.size);
	if (!w.buf) {
		snprintf(info->error, sizeof(info->error),
			 "out of memory for a %zu-byte read window", w.size);
		return -ENOMEM;
	}
	err = read_header(&w, info);
	if (!err)
		err = read_records(&w, salvage, fn, cg, nat, clock, ctx, info);
	free(w.buf);
	return err;
}

int tracefile_read_window(FILE *f, size_t window, bool salvage, tracefile_fn fn, void *ctx,
			  struct tracefile_info *info)
{
	return read_all(f, window, salvage, fn, NULL, NULL, NULL, ctx, info);
}

int tracefile_read(FILE *f, bool salvage, tracefile_fn fn, void *ctx, struct tracefile_info *info)
{
	return read_all(f, TRACEFILE_WINDOW, salvage, fn, NULL, NULL, NULL, ctx, info);
}

int tracefile_read_all(FILE *f, bool salvage, tracefile_fn fn, tracefile_cgroup_fn cg, void *ctx,
		       struct tracefile_info *info)
{
	return read_all(f, TRACEFILE_WINDOW, salvage, fn, cg, NULL, NULL, ctx, info);
}

int tracefile_read_nat(FILE *f, bool salvage, tracefile_fn fn, tracefile_cgroup_fn cg,
		       tracefile_nat_fn nat, void *ctx, struct tracefile_info *info)
{
	return read_all(f, TRACEFILE_WINDOW, salvage, fn, cg, nat, NULL, ctx, info);
}

int tracefile_read_clock(FILE *f, bool salvage, tracefile_fn fn, tracefile_cgroup_fn cg,
			 tracefile_nat_fn nat, tracefile_clock_fn clock, void *ctx,
			 struct tracefile_info *info)
{
	return read_all(f, TRACEFILE_WINDOW, salvage, fn, cg, nat, clock, ctx, info);
}
