// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mktw N [STAY_SECONDS]: leaves N TIME_WAIT sockets in the current network
 * namespace (loopback connections the client closes first), then stays
 * alive STAY_SECONDS so a tracer can still enter the namespace through
 * /proc/PID/ns/net. Run it in a namespace of its own with a wide
 * ip_local_port_range: 28k TIME_WAIT sockets fill the default range.
 * Prints {"time_wait":N,"seconds":S} when done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	int stay = argc > 2 ? atoi(argv[2]) : 0;
	struct timespec t0, t1;
	int lfd;

	if (n <= 0) {
		fprintf(stderr, "usage: mktw N [STAY_SECONDS]\n");
		return 2;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (void *)&sa, sizeof(sa)) || listen(lfd, 128) ||
	    getsockname(lfd, (void *)&sa, &sl)) {
		fprintf(stderr, "mktw: listener: %s\n", strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0), a;

		if (c < 0 || connect(c, (void *)&sa, sizeof(sa))) {
			fprintf(stderr, "mktw: connect %ld of %ld: %s (widen "
					"net.ipv4.ip_local_port_range?)\n", i + 1, n, strerror(errno));
			return 1;
		}
		a = accept(lfd, NULL, NULL);
		if (a < 0) {
			fprintf(stderr, "mktw: accept: %s\n", strerror(errno));
			return 1;
		}
		close(c);	/* the client closes first: its port goes to TIME_WAIT */
		close(a);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("{\"time_wait\":%ld,\"seconds\":%.3f}\n", n,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	fflush(stdout);
	if (stay > 0)
		sleep(stay);
	return 0;
}
