#!/usr/bin/python3
"""A small port workload under its own process name, so the exporter run of
tests/deploy/check.sh has series of every kind to check names and labels
against: connects that end in TIME_WAIT (the client closes first), a bind()
conflict (EADDRINUSE: an allocation failure), a bind() to an address that is
not local (a bind error) and a UDP autobind. Loopback only.

    workload.py COMM ROUNDS            all of the above
    workload.py COMM ROUNDS ADDR:PORT  only connects to ADDR:PORT (a server
                                       behind NAT), the client closing first
"""
import ctypes
import errno
import socket
import sys


def set_comm(name):
    # PR_SET_NAME: the exporter labels series with the process name
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(15, name.encode()[:15], 0, 0, 0):
        sys.exit("workload: prctl(PR_SET_NAME): %s" % errno.errorcode[ctypes.get_errno()])


def main():
    set_comm(sys.argv[1])
    rounds = int(sys.argv[2])
    if len(sys.argv) > 3:
        host, port = sys.argv[3].rsplit(":", 1)
        for _ in range(rounds):
            socket.create_connection((host, int(port)), timeout=5).close()
        return
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(64)
    for _ in range(rounds):
        c = socket.create_connection(lst.getsockname())
        s, _ = lst.accept()
        c.close()		# the client closes first: its port goes to TIME_WAIT
        s.close()
    try:
        dup = socket.socket()
        dup.bind(lst.getsockname())
        sys.exit("workload: a second bind() to a listening port worked")
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
    finally:
        dup.close()
    try:
        far = socket.socket()
        far.bind(("192.0.2.1", 0))	# TEST-NET-1: never a local address here
        sys.exit("workload: bind() to 192.0.2.1 worked: is it a local address?")
    except OSError as e:
        if e.errno != errno.EADDRNOTAVAIL:
            raise
    finally:
        far.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"x", ("127.0.0.1", 9))	# autobind; the discard port need not listen
    u.close()
    lst.close()


if __name__ == "__main__":
    main()
