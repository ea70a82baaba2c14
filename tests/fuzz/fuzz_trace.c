// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: any bytes as a trace file, read strictly and with
 * --salvage, every record pushed through the report path (the pipeline:
 * lease table, aggregation; event lines as text and JSON, CSV rows, Chrome
 * slices; the summary), as `portlife report` does. Build and run with
 * `make fuzz` (bounded) or, for a long run:
 *   .output/fuzz_trace -max_total_time=3600 .output/fuzz-corpus
 *
 * Random bytes rarely get past a record's CRC, so most mutations are made
 * on the trace's structure (LLVMFuzzerCustomMutator): the input is parsed
 * as header, records and trailer; fields of records and of the header are
 * changed, copied from record to record (so leases, cookies and processes
 * meet), records duplicated, dropped, reordered, whole leases added; the
 * NAT, cgroup path and names records between them are kept, changed, made
 * from the events around (a lease's NAT port, its pod's names) and moved;
 * then everything is framed again with valid CRCs. The rest are libFuzzer's own
 * byte mutations, which is what the framing itself needs.
 *
 * Besides the sanitizers, one check of its own: the reader hands out the
 * same records and the same verdict through any window size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "report.h"
#include "tracefile.h"

/* Small tables keep every input fast; overflow and eviction get exercised too. */
#define FUZZ_LEASES 64
#define FUZZ_PROCS 16

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* ---- the report path -------------------------------------------------- */

struct digest {
	__u64 n;
	uLong crc;
};

static void digest_record(void *ctx, const struct pl_event *e)
{
	struct digest *d = ctx;

	d->n++;
	d->crc = crc32(d->crc, (const void *)e, sizeof(*e));
}

static FILE *devnull(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "w");
	if (!f)
		abort();
	return f;
}

static FILE *memfile(const uint8_t *data, size_t size)
{
	FILE *f = fmemopen((void *)data, size, "r");

	if (!f)
		abort();
	return f;
}

static int read_bytes(const uint8_t *data, size_t size, size_t window, bool salvage,
		      struct digest *d, struct tracefile_info *info)
{
	FILE *f = memfile(data, size);
	int err = tracefile_read_window(f, window, salvage, digest_record, d, info);

	fclose(f);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a window from the smallest up, so small inputs cross window edges too */
	size_t small = size ? sizeof(struct pl_file_hdr) + data[size - 1] : 0;
	/* which report: every format, and the summary as text and as JSON */
	unsigned int pick = size ? data[size / 2] : 0;

	for (int salvage = 0; salvage < 2 && size; salvage++) {
		struct report_opts o = { .fmt = pick % 4, .json = pick & 4, .salvage = salvage,
					 .max_leases = FUZZ_LEASES, .max_procs = FUZZ_PROCS };
		struct tracefile_info info, info1, info2;
		struct digest seen1 = {}, seen2 = {};
		FILE *f = memfile(data, size);
		int err, err1, err2;

		/* the security rules too: at their defaults, or at thresholds any input reaches */
		alert_cfg_default(&o.alerts);
		if (pick & 8) {
			o.alerts.so_dests = o.alerts.si_ports = 2;
			o.alerts.ab_min = o.alerts.ab_learn = 1;
			o.alerts.ab_factor = 2;
		}

		/* the report path: `portlife report` itself */
		err = report__run(f, &o, devnull(), "fuzz", &info);
		fclose(f);
		err1 = read_bytes(data, size, TRACEFILE_WINDOW, salvage, &seen1, &info1);
		err2 = read_bytes(data, size, small, salvage, &seen2, &info2);
		if (err != err1 || err1 != err2 || seen1.n != seen2.n || seen1.crc != seen2.crc ||
		    memcmp(&info1, &info2, sizeof(info1)) || info.records != info1.records) {
			fprintf(stderr, "window %zu reads differently from %d: %d/%d/%d, "
					"%llu/%llu records, '%s' / '%s'\n", small, TRACEFILE_WINDOW,
				err, err1, err2,
				(unsigned long long)seen1.n, (unsigned long long)seen2.n,
				info1.error, info2.error);
			abort();
		}
	}
	return 0;
}

/* ---- structure-aware mutation ------------------------------------------ */

#define MAX_RECS 1024
#define MAX_EXTRAS 64

/*
 * A record that is not an event (PL_NAT_MAGIC, PL_CG_MAGIC, PL_CN_MAGIC),
 * written before the event at index `at` (after the last if past it). For
 * a cgroup record, body holds its struct pl_cgroup_rec and `data` bytes
 * after it; the record's own len may say otherwise (the reader must cope).
 */
struct extra {
	size_t at;
	__u32 magic;
	size_t data;
	union {
		struct pl_nat_rec nat;
		struct {
			struct pl_cgroup_rec r;
			char bytes[PL_CGPATH_MAX];
		} cg;
	} body;
};

struct trace {
	struct pl_file_hdr hdr;
	struct pl_event ev[MAX_RECS];
	size_t n;
	struct extra x[MAX_EXTRAS];
	size_t nx;
	bool has_trailer;
	struct pl_file_trailer trailer;
};

static struct trace tr, tr2;

static __u64 rng_state;

static __u64 rnd64(void)
{
	/* xorshift64*: the mutation must follow from libFuzzer's seed alone */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t rnd(size_t n)
{
	return n ? rnd64() % n : 0;
}

#define PICK(a) ((a)[rnd(sizeof(a) / sizeof((a)[0]))])

/*
 * Whatever the bytes are, a trace: the header as it is (or a valid one if
 * there are too few bytes), every framed record or trailer found after it
 * whatever its CRC, bytes between them dropped.
 */
static void parse(const uint8_t *data, size_t size, struct trace *t)
{
	size_t pos = sizeof(t->hdr);

	memset(t, 0, sizeof(*t));
	if (size < sizeof(t->hdr)) {
		memcpy(t->hdr.magic, PL_FILE_MAGIC, 8);
		t->hdr.version = PL_FILE_VERSION;
		t->hdr.hdr_size = sizeof(t->hdr);
		t->hdr.rec_size = sizeof(struct pl_event);
		return;
	}
	memcpy(&t->hdr, data, sizeof(t->hdr));
	while (pos + 4 <= size && t->n < MAX_RECS) {
		__u32 magic;

		memcpy(&magic, data + pos, 4);
		if (magic == PL_REC_MAGIC && size - pos >= TRACEFILE_REC_BYTES) {
			memcpy(&t->ev[t->n++], data + pos + 4, sizeof(struct pl_event));
			pos += TRACEFILE_REC_BYTES;
		} else if (magic == PL_NAT_MAGIC && size - pos >= TRACEFILE_NAT_BYTES &&
			   t->nx < MAX_EXTRAS) {
			struct extra *x = &t->x[t->nx++];

			x->at = t->n;
			x->magic = magic;
			memcpy(&x->body.nat, data + pos + 4, sizeof(x->body.nat));
			pos += TRACEFILE_NAT_BYTES;
		} else if ((magic == PL_CG_MAGIC || magic == PL_CN_MAGIC) &&
			   size - pos >= 4 + sizeof(struct pl_cgroup_rec) + 4 && t->nx < MAX_EXTRAS) {
			struct extra *x = &t->x[t->nx];
			size_t len;

			memcpy(&x->body.cg.r, data + pos + 4, sizeof(x->body.cg.r));
			len = x->body.cg.r.len;
			if (len > PL_CGPATH_MAX || size - pos < 4 + sizeof(x->body.cg.r) + len + 4) {
				pos++;
				continue;
			}
			memcpy(x->body.cg.bytes, data + pos + 4 + sizeof(x->body.cg.r), len);
			x->at = t->n;
			x->magic = magic;
			x->data = len;
			t->nx++;
			pos += 4 + sizeof(x->body.cg.r) + len + 4;
		} else if (magic == PL_END_MAGIC && size - pos >= TRACEFILE_END_BYTES) {
			memcpy(&t->trailer, data + pos + 4, sizeof(t->trailer));
			t->has_trailer = true;
			pos += TRACEFILE_END_BYTES;
		} else {
			pos++;
		}
	}
}

/* A non-event record framed as the writer frames it: magic, body, CRC-32 of both. */
static size_t frame_extra(uint8_t *out, size_t room, const struct extra *x)
{
	size_t body = x->magic == PL_NAT_MAGIC ? sizeof(x->body.nat)
						: sizeof(x->body.cg.r) + x->data;
	__u32 c;

	if (room < 4 + body + 4)
		return 0;
	memcpy(out, &x->magic, 4);
	memcpy(out + 4, &x->body, body);
	c = (__u32)crc32(crc32(0L, Z_NULL, 0), out, 4 + body);
	memcpy(out + 4 + body, &c, 4);
	return 4 + body + 4;
}

/* The extras that come before event i (all that are left, for i == n). */
static size_t put_extras(const struct trace *t, size_t i, uint8_t *out, size_t len, size_t max)
{
	for (size_t k = 0; k < t->nx; k++) {
		size_t at = t->x[k].at > t->n ? t->n : t->x[k].at;

		if (at == i)
			len += frame_extra(out + len, max - len, &t->x[k]);
	}
	return len;
}

/* The trace as a file, cut at max bytes (records past it are dropped whole). */
static size_t serialize(const struct trace *t, uint8_t *out, size_t max)
{
	size_t len = sizeof(t->hdr);

	if (max < len) {
		memcpy(out, &t->hdr, max);
		return max;
	}
	memcpy(out, &t->hdr, len);
	for (size_t i = 0; i < t->n && len + TRACEFILE_REC_BYTES <= max; i++) {
		len = put_extras(t, i, out, len, max);
		if (len + TRACEFILE_REC_BYTES > max)
			break;
		tracefile_frame_record(out + len, &t->ev[i]);
		len += TRACEFILE_REC_BYTES;
	}
	len = put_extras(t, t->n, out, len, max);
	if (t->has_trailer && len + TRACEFILE_END_BYTES <= max) {
		tracefile_frame_trailer(out + len, &t->trailer);
		len += TRACEFILE_END_BYTES;
	}
	return len;
}

static const __u64 u64s[] = { 0, 1, 2, 1000, 1ULL << 20, (1ULL << 20) + 1, 0xffffffffULL,
			      1ULL << 32, 1ULL << 63, ~0ULL - 1, ~0ULL };
static const __u16 ports[] = { 0, 1, 80, 1023, 1024, 32768, 60999, 61000, 65535 };
static const __s32 errs[] = { 0, 0, 0, 11 /* EAGAIN */, 98 /* EADDRINUSE */,
			      99 /* EADDRNOTAVAIL */, 1, 4095, 4096, -1, -2147483647 - 1 };
/* bytes that break out of quotes, lines, terminals and spreadsheet cells */
static const unsigned char nasty[] = { '"', '\\', '\n', '\r', '\t', '\033', '\a', '\b', 0x7f, 0x80,
			      0xc3, 0xe2, 0xff, '=', '+', '-', '@', ',', '%', '<', '&', '\0' };

static __u64 some_u64(__u64 was)
{
	switch (rnd(5)) {
	case 0:
		return PICK(u64s);
	case 1:
		return was + 1 + rnd(4);
	case 2:
		return was - 1 - rnd(4);
	case 3:
		return rnd64();
	default:
		return was ^ (1ULL << rnd(64));
	}
}

static void some_bytes(char *s, size_t n)
{
	size_t len = rnd(n + 1);

	for (size_t i = 0; i < len; i++)
		s[i] = rnd(2) ? PICK(nasty) : (char)(' ' + rnd(95));
	if (len < n)
		s[len] = '\0';
}

static struct pl_event *some_record(struct trace *t)
{
	return t->n ? &t->ev[rnd(t->n)] : NULL;
}

/* Change one field of e; valid values most of the time, so the record still reads. */
static void mutate_field(struct pl_event *e)
{
	switch (rnd(16)) {
	case 0:
		e->type = rnd(8) ? PL_EV_ALLOC + rnd(PL_EV_MAX - PL_EV_ALLOC) : rnd(256);
		break;
	case 1:
		e->family = rnd(8) ? (rnd(2) ? 2 : 10) : rnd(256);
		e->proto = rnd(8) ? (rnd(2) ? 6 : 17) : rnd(256);
		break;
	case 2:
		e->kind = rnd(4) ? rnd(PL_END_MAX + 1) : rnd(256);
		break;
	case 3:
		e->old_state = rnd(4) ? rnd(13) : rnd(256);
		e->new_state = rnd(4) ? rnd(13) : rnd(256);
		break;
	case 4:
		e->lport = rnd(2) ? PICK(ports) : rnd(65536);
		break;
	case 5:
		e->rport = rnd(2) ? PICK(ports) : rnd(65536);
		break;
	case 6:
		e->err = rnd(2) ? PICK(errs) : (__s32)rnd(4096);
		break;
	case 7:
		e->pid = rnd(2) ? (__u32)PICK(u64s) : (__u32)rnd(8);
		e->tid = rnd(2) ? e->pid : (__u32)rnd64();
		break;
	case 8:
		e->netns = rnd(2) ? 4026531840u + rnd(3) : (__u32)rnd64();
		break;
	case 9:
		e->ts_ns = some_u64(e->ts_ns);
		break;
	case 10:
		/* big jumps rarely: each costs lease.c a 2^20 loop today (mkcrafted lease-jump) */
		e->lease = rnd(8) ? e->lease + rnd(5) - 2 : some_u64(e->lease);
		break;
	case 11:
		e->cookie = rnd(2) ? some_u64(e->cookie) : rnd(4);
		break;
	case 12:
		e->cgroup_id = some_u64(e->cgroup_id);
		break;
	case 13:
		e->dur_ns = some_u64(e->dur_ns);
		break;
	case 14:
		for (int i = 0; i < 16; i++) {
			e->laddr[i] = rnd(4) ? e->laddr[i] : rnd(256);
			e->raddr[i] = rnd(4) ? e->raddr[i] : rnd(256);
		}
		break;
	default:
		some_bytes(e->comm, sizeof(e->comm));
		break;
	}
}

/* Make two records about the same thing: lease, socket, process, time. */
static void copy_field(struct pl_event *to, const struct pl_event *from)
{
	switch (rnd(6)) {
	case 0:
		to->lease = from->lease;
		break;
	case 1:
		to->cookie = from->cookie;
		break;
	case 2:
		to->pid = from->pid;
		memcpy(to->comm, from->comm, sizeof(to->comm));
		break;
	case 3:
		to->ts_ns = from->ts_ns;
		break;
	case 4:
		to->lport = from->lport;
		to->netns = from->netns;
		to->proto = from->proto;
		break;
	default:
		to->pid = from->pid;
		memcpy(to->comm, from->comm, sizeof(to->comm));
		to->lease = from->lease + 1;
		break;
	}
}

static void insert(struct trace *t, size_t at, const struct pl_event *e)
{
	if (t->n >= MAX_RECS)
		return;
	memmove(&t->ev[at + 1], &t->ev[at], (t->n - at) * sizeof(*e));
	t->ev[at] = *e;
	t->n++;
}

/* A whole lease, from ALLOC to RELEASE, perhaps through TIME_WAIT. */
static void add_lease(struct trace *t)
{
	const struct pl_event *like = some_record(t);
	struct pl_event e = like ? *like : (struct pl_event){ .family = 2, .proto = 6, .pid = 1 };
	__u64 ts = e.ts_ns;
	bool tw = rnd(2);
	size_t at = rnd(t->n + 1);

	if (!e.comm[0])
		memcpy(e.comm, "fuzz", 5);
	e.lease = rnd(16) ? e.lease + 1 + rnd(3) : some_u64(e.lease);
	e.cookie = rnd(2) ? e.lease : e.cookie;
	e.err = 0;
	for (int type = PL_EV_ALLOC; type <= PL_EV_RELEASE; type++) {
		if (!tw && (type == PL_EV_TW_ENTER || type == PL_EV_TW_EXIT))
			continue;
		e.type = type;
		e.ts_ns = ts += 1 + rnd(1000000);
		e.kind = type == PL_EV_ALLOC ? PL_ALLOC_CONNECT + rnd(4)
		       : type == PL_EV_STATE ? (tw ? PL_STATE_TW_EXPECTED : 0)
		       : tw ? PL_END_TW_EXPIRED : PL_END_CLOSE;
		e.old_state = type == PL_EV_STATE ? 1 : 0;
		e.new_state = type == PL_EV_STATE ? 7 : 0;
		e.dur_ns = type == PL_EV_TW_ENTER ? 60000000000ULL : rnd(100000);
		insert(t, at++, &e);
	}
}

/* A NAT record about event e's lease: its tuple, owner and time; any kind. */
static void add_nat(struct trace *t)
{
	const struct pl_event *e = some_record(t);
	struct extra *x;
	struct pl_nat_rec *n;

	if (t->nx >= MAX_EXTRAS)
		return;
	x = &t->x[t->nx++];
	memset(x, 0, sizeof(*x));
	x->magic = PL_NAT_MAGIC;
	x->at = rnd(t->n + 1);
	n = &x->body.nat;
	n->kind = PL_NAT_NEW + rnd(PL_NAT_MAX - PL_NAT_NEW);
	n->family = e && (e->family == 2 || e->family == 10) ? e->family : 2;
	n->proto = e && e->proto == 17 ? 17 : 6;
	n->flags = rnd(4) ? PL_NATF_OWNED : rnd(PL_NATF_ALL + 1);
	if (n->flags & PL_NATF_COUNT_ONLY)
		n->kind = PL_NAT_FAIL, n->family = n->proto = 0;
	n->n = n->kind == PL_NAT_FAIL ? (n->flags & PL_NATF_COUNT_ONLY ? 1 + rnd(100) : 1) : 0;
	n->range_lo = rnd(2) ? 1024 : PICK(ports);
	n->range_hi = n->range_lo + rnd(65536 - n->range_lo);
	n->nat_port = rnd(2) ? n->range_lo + rnd(n->range_hi - n->range_lo + 1) : PICK(ports);
	n->nat_netns = rnd(2) ? 7 : (__u32)rnd64();
	n->ts_ns = e ? e->ts_ns + rnd(1000) : rnd64();
	n->hold_ns = n->kind == PL_NAT_END ? some_u64(0) : 0;
	if (e) {
		n->lport = e->lport;
		n->rport = e->rport;
		n->pid = e->pid;
		n->netns = e->netns;
		n->cgroup_id = e->cgroup_id;
		memcpy(n->laddr, e->laddr, 16);
		memcpy(n->raddr, e->raddr, 16);
		memcpy(n->comm, e->comm, sizeof(n->comm));
	}
	memcpy(n->nat_addr, n->laddr, 16);
	n->nat_addr[3] ^= 1 + rnd(255);
}

/* A cgroup path or names record for an event's cgroup: hostile bytes often. */
static void add_cgroup(struct trace *t)
{
	const struct pl_event *e = some_record(t);
	static const char *const paths[] = {
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234abcd_5678_"
		"90ef_1234_567890abcdef.slice/cri-containerd-0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef.scope",
		"/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef012345678"
		"9abcdef.scope",
		"/machine.slice/libpod-0123456789abcdef0123456789abcdef0123456789abcdef0123456"
		"789abcdef.scope",
		"/system.slice/nginx.service", "/", "",
	};
	struct extra *x;
	size_t max;

	if (t->nx >= MAX_EXTRAS)
		return;
	x = &t->x[t->nx++];
	memset(x, 0, sizeof(*x));
	x->magic = rnd(2) ? PL_CG_MAGIC : PL_CN_MAGIC;
	x->at = rnd(t->n + 1);
	x->body.cg.r.id = e && rnd(4) ? e->cgroup_id : some_u64(0);
	max = x->magic == PL_CN_MAGIC ? PL_CGNAMES_MAX - 1 : PL_CGPATH_MAX;
	if (x->magic == PL_CG_MAGIC && rnd(2)) {
		const char *path = PICK(paths);

		x->data = strlen(path);
		memcpy(x->body.cg.bytes, path, x->data);
	} else {
		/* namespace, pod, container: NUL-separated, any bytes in them */
		x->data = rnd(max + 1);
		some_bytes(x->body.cg.bytes, x->data);
		for (size_t i = 0; i < x->data; i++)
			if (!rnd(16))
				x->body.cg.bytes[i] = '\0';
	}
	x->body.cg.r.len = x->data;
}

/* Change one field of a non-event record; valid values most of the time. */
static void mutate_extra(struct trace *t)
{
	struct extra *x = &t->x[rnd(t->nx)];
	struct pl_nat_rec *n = &x->body.nat;

	switch (rnd(4)) {
	case 0:
		x->at = rnd(t->n + 1);
		return;
	case 1:
		/* gone */
		*x = t->x[--t->nx];
		return;
	default:
		break;
	}
	if (x->magic != PL_NAT_MAGIC) {
		if (!rnd(8))
			x->body.cg.r.len = rnd(2) ? (__u32)some_u64(x->body.cg.r.len) : x->data + 1;
		else if (!rnd(8))
			x->body.cg.r.pad = 1;
		else if (x->data)
			x->body.cg.bytes[rnd(x->data)] = rnd(2) ? PICK(nasty) : (char)rnd(256);
		return;
	}
	switch (rnd(10)) {
	case 0:
		n->kind = rnd(8) ? PL_NAT_NEW + rnd(PL_NAT_MAX - PL_NAT_NEW) : rnd(256);
		n->n = n->kind == PL_NAT_FAIL;
		break;
	case 1:
		n->flags = rnd(8) ? rnd(PL_NATF_ALL + 1) : rnd(256);
		break;
	case 2:
		n->nat_port = rnd(2) ? PICK(ports) : rnd(65536);
		break;
	case 3:
		n->range_lo = rnd(2) ? PICK(ports) : rnd(65536);
		n->range_hi = rnd(2) ? PICK(ports) : rnd(65536);
		break;
	case 4:
		n->pid = rnd(2) ? (__u32)PICK(u64s) : (__u32)rnd(8);
		break;
	case 5:
		n->ts_ns = some_u64(n->ts_ns);
		break;
	case 6:
		n->hold_ns = some_u64(n->hold_ns);
		break;
	case 7:
		n->n = rnd(2) ? (__u32)PICK(u64s) : rnd(3);
		break;
	case 8:
		n->lport = rnd(2) ? PICK(ports) : rnd(65536);
		n->nat_netns = rnd(2) ? n->nat_netns : (__u32)rnd64();
		break;
	default:
		some_bytes(n->comm, sizeof(n->comm));
		break;
	}
}

static void mutate_header(struct pl_file_hdr *h)
{
	switch (rnd(8)) {
	case 0:
		h->version = rnd(4) ? PL_FILE_VERSION : rnd(4);
		break;
	case 1:
		h->hdr_size = rnd(8) ? sizeof(*h) : rnd64();
		h->rec_size = rnd(8) ? sizeof(struct pl_event) : rnd64();
		break;
	case 2:
		h->wall_off_ns = some_u64(h->wall_off_ns);
		break;
	case 3:
		h->start_ns = some_u64(h->start_ns);
		break;
	case 4:
		some_bytes(h->hostname, sizeof(h->hostname));
		some_bytes(h->release, sizeof(h->release));
		break;
	case 5:
		some_bytes(h->mode, sizeof(h->mode));
		break;
	case 6:
		some_bytes(h->precision, sizeof(h->precision));
		break;
	default:
		some_bytes(h->filters, sizeof(h->filters));
		break;
	}
}

static void mutate_trailer(struct trace *t)
{
	__u64 *w = (__u64 *)&t->trailer;

	if (!t->has_trailer || !rnd(4)) {
		t->has_trailer = !t->has_trailer;
		return;
	}
	w[rnd(sizeof(t->trailer) / sizeof(*w))] = some_u64(0);
}

static void mutate_structure(struct trace *t)
{
	struct pl_event *a = some_record(t), *b = some_record(t), tmp;

	if (!a) {
		add_lease(t);
		return;
	}
	switch (rnd(15)) {
	case 12:
		add_nat(t);
		break;
	case 13:
		add_cgroup(t);
		break;
	case 14:
		if (t->nx)
			mutate_extra(t);
		else
			add_nat(t);
		break;
	case 0:
	case 1:
	case 2:
		mutate_field(a);
		break;
	case 3:
	case 4:
		copy_field(a, b);
		break;
	case 5:
		tmp = *a;
		insert(t, rnd(t->n + 1), &tmp);
		break;
	case 6:
		memmove(a, a + 1, (&t->ev[t->n] - a - 1) * sizeof(*a));
		t->n--;
		break;
	case 7:
		tmp = *a;
		*a = *b;
		*b = tmp;
		break;
	case 8:
		add_lease(t);
		break;
	case 9:
		/* libFuzzer's byte mutations inside one record, framed again after */
		LLVMFuzzerMutate((uint8_t *)a, sizeof(*a), sizeof(*a));
		break;
	case 10:
		mutate_header(&t->hdr);
		break;
	default:
		mutate_trailer(t);
		break;
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size_t len;

	rng_state = seed | 1ULL << 32;
	/* a quarter of the time, bytes: the framing, resync and header checks need that */
	if (!rnd(4))
		return LLVMFuzzerMutate(data, size, max_size);
	parse(data, size, &tr);
	for (size_t k = 1 + rnd(3); k; k--)
		mutate_structure(&tr);
	len = serialize(&tr, data, max_size);
	/* now and then damage on top of the structure, for --salvage */
	if (len > sizeof(tr.hdr) && !rnd(16)) {
		if (rnd(2))
			data[sizeof(tr.hdr) + rnd(len - sizeof(tr.hdr))] ^= 1 << rnd(8);
		else
			len -= rnd(len - sizeof(tr.hdr));
	}
	return len;
}

/* Records of one trace, then of the other, under the first's header. */
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
				 uint8_t *out, size_t max_out, unsigned int seed)
{
	size_t keep, take;

	rng_state = seed | 1ULL << 32;
	parse(d1, s1, &tr);
	parse(d2, s2, &tr2);
	keep = rnd(tr.n + 1);
	take = rnd(tr2.n + 1);
	if (keep + take > MAX_RECS)
		take = MAX_RECS - keep;
	memcpy(&tr.ev[keep], &tr2.ev[tr2.n - take], take * sizeof(tr.ev[0]));
	tr.n = keep + take;
	if (tr2.has_trailer && rnd(2)) {
		tr.has_trailer = true;
		tr.trailer = tr2.trailer;
	}
	return serialize(&tr, out, max_out);
}
