// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/utsname.h>
#include <zlib.h>
#include "lb.h"
#include "portlife.h"
#include "util.h"

const char *errno_name(int err, char *buf, size_t len)
{
	/* The errnos a port allocation can end with, and a few neighbours. */
	static const struct { int e; const char *n; } names[] = {
		{ EADDRINUSE, "EADDRINUSE" }, { EADDRNOTAVAIL, "EADDRNOTAVAIL" },
		{ EAGAIN, "EAGAIN" }, { EACCES, "EACCES" }, { EPERM, "EPERM" },
		{ EINVAL, "EINVAL" }, { ENOMEM, "ENOMEM" }, { ENOBUFS, "ENOBUFS" },
		{ ECONNREFUSED, "ECONNREFUSED" }, { ENETUNREACH, "ENETUNREACH" },
		{ EHOSTUNREACH, "EHOSTUNREACH" }, { ETIMEDOUT, "ETIMEDOUT" },
		{ EISCONN, "EISCONN" }, { EALREADY, "EALREADY" }, { EBADF, "EBADF" },
		{ ENOTSOCK, "ENOTSOCK" }, { EAFNOSUPPORT, "EAFNOSUPPORT" },
		{ EINPROGRESS, "EINPROGRESS" }, { EINTR, "EINTR" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == err)
			return names[i].n;
	snprintf(buf, len, "E%d", err);
	return buf;
}

const char *tcp_state_name(int state)
{
	static const char *names[] = {
		[1] = "ESTABLISHED", [2] = "SYN_SENT", [3] = "SYN_RECV",
		[4] = "FIN_WAIT1", [5] = "FIN_WAIT2", [6] = "TIME_WAIT",
		[7] = "CLOSE", [8] = "CLOSE_WAIT", [9] = "LAST_ACK",
		[10] = "LISTEN", [11] = "CLOSING", [12] = "NEW_SYN_RECV",
		[13] = "BOUND",	/* the kernel's BOUND_INACTIVE: bound, never listened or connected */
	};

	if (state <= 0 || state >= (int)(sizeof(names) / sizeof(names[0])) || !names[state])
		return "?";
	return names[state];
}

const char *proto_family_str(int proto, int family)
{
	if (proto == IPPROTO_UDP)
		return family == AF_INET6 ? "udp6" : "udp4";
	return family == AF_INET6 ? "tcp6" : "tcp4";
}

const char *addr_str(int family, const __u8 addr[16], char *buf, size_t len)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

bool addr_v4mapped(const __u8 a[16])
{
	static const __u8 prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

bool addr_loopback(int family, const __u8 a[16])
{
	static const __u8 lo6[16] = { [15] = 1 };

	if (family == AF_INET)
		return a[0] == 127;
	return !memcmp(a, lo6, 16) || (addr_v4mapped(a) && a[12] == 127);
}

const char *endpoint_str(int family, const __u8 addr[16], __u16 port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	addr_str(family, addr, a, sizeof(a));
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
	return buf;
}

const char *dur_str(__u64 ns, char *buf, size_t len)
{
	char t[32];
	struct lb b = { t, t, t + sizeof(t) - 1 };

	/* one formatter for durations: the event lines build theirs with lb_dur() */
	lb_dur(&b, ns);
	*b.p = '\0';
	snprintf(buf, len, "%s", t);
	return buf;
}

void comm_sanitize(const char *comm, size_t n, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i < n && i + 1 < outlen && comm[i]; i++) {
		unsigned char c = comm[i];

		/* Terminal escapes in a process name must not reach the tty. */
		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[i] = '\0';
}

void holder_comm(const char *comm, char *out, size_t outlen)
{
	comm_sanitize(comm, PL_COMM_LEN, out, outlen);
	for (char *p = out; *p; p++)
		if (*p == ',')
			*p = '?';
}

const char *safe_str(const char *s, char *buf, size_t len)
{
	/* comm_sanitize() copies forward, byte for byte: in place is fine */
	comm_sanitize(s, strlen(s), buf, len);
	return buf;
}

__u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

__u64 mono_to_wall_offset(void)
{
	struct timespec rt, mt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	return ((__u64)rt.tv_sec * 1000000000ULL + rt.tv_nsec) -
	       ((__u64)mt.tv_sec * 1000000000ULL + mt.tv_nsec);
}

const char *wall_secs(__u64 wall_ns, int iso, size_t *len)
{
	/* Events come thousands a second: convert each second once, not per event. */
	static __thread time_t last[2] = { -1, -1 };
	static __thread char cached[2][32];
	static __thread size_t clen[2];
	time_t secs = wall_ns / 1000000000ULL;
	struct tm tm;

	iso = !!iso;
	if (secs != last[iso]) {
		if (iso)
			clen[1] = strftime(cached[1], sizeof(cached[1]), "%Y-%m-%dT%H:%M:%S",
					   gmtime_r(&secs, &tm));
		else
			clen[0] = strftime(cached[0], sizeof(cached[0]), "%H:%M:%S",
					   localtime_r(&secs, &tm));
		last[iso] = secs;
	}
	if (len)
		*len = clen[iso];
	return cached[iso];
}

const char *wall_str(__u64 wall_ns, int iso, char *buf, size_t len)
{
	if (iso)
		snprintf(buf, len, "%s.%06lluZ", wall_secs(wall_ns, 1, NULL),
			 (unsigned long long)(wall_ns % 1000000000ULL) / 1000);
	else
		snprintf(buf, len, "%s.%03llu", wall_secs(wall_ns, 0, NULL),
			 (unsigned long long)(wall_ns % 1000000000ULL) / 1000000);
	return buf;
}

int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	/* digits only: strtoul alone takes " 5", "+5" and "-5" */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_seconds(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	const char *p = s;

	/*
	 * DIGITS[.DIGITS] only: strtod alone takes " 5", "0x10", "1e3",
	 * "inf" and the locale's own decimal point.
	 */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	p += strspn(p, "0123456789");
	if (*p == '.' && p[1] >= '0' && p[1] <= '9')
		p += 1 + strspn(p + 1, "0123456789");
	if (*p)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || isnan(v))
		return errno == ERANGE ? -ERANGE : -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

const char *proc_stat_fields(unsigned int pid, char *buf, size_t len)
{
	char path[64], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p ? p + 1 : NULL;
}

unsigned int kernel_hz(void)
{
	char path[320], line[256];
	struct utsname u;
	unsigned int hz = 0;
	gzFile f = NULL;

	/* gzopen() reads plain files too. */
	if (!uname(&u)) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		f = gzopen(path, "r");
	}
	if (!f)
		f = gzopen("/proc/config.gz", "r");
	if (!f)
		return 0;
	while (gzgets(f, line, sizeof(line)))
		if (sscanf(line, "CONFIG_HZ=%u", &hz) == 1)
			break;
	gzclose(f);
	return hz;
}

/*
 * Is the reader of stdout gone (a pipe whose reader closed, as in
 * `portlife ports | head -1`, or a socket the peer shut)? poll() says
 * POLLERR or POLLHUP for such a descriptor; a file, a terminal or a pipe
 * still read says neither.
 */
bool stdout_reader_gone(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP));
}

int out_finish(const char *what)
{
	int e;

	if (!lb_flush(stdout) && !ferror(stdout))
		return 0;
	/* stdio's own writes keep no cause: by the end it is gone (lb.h) */
	e = lb_write_errno ? lb_write_errno : stdout_reader_gone() ? EPIPE : EIO;
	if (e == EPIPE)
		return 0;
	fprintf(stderr, "portlife: writing the %s failed: %s: free space or write elsewhere\n",
		what, strerror(e));
	return 1;
}
