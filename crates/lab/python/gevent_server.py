"""一 review: the notes' gevent server (the homework's answer), kept in the lab as a yardstick.

`monkey.patch_all()` makes every socket call cooperative: a greenlet that would block in
recv() switches to another, and gevent's event loop (libev or libuv: epoll underneath)
switches back when the socket is ready. It reads like the blocking server and runs on one
thread. `cargo lab bench` runs it when gevent is installed (`pip install gevent`). Run it:

    python3 crates/lab/python/gevent_server.py --addr 127.0.0.1:8080
    nc 127.0.0.1 8080

It differs from the notes where bytes would be lost: sendall() instead of send() (a send
may take only part of a reply), and listen(1024) instead of 5 so a thousand clients at once
are queued rather than retried. sendall() waits for the client to take each reply before
the next recv(), so a client that never reads costs one parked greenlet, not memory.

And it yields after a budget of reads (--budget, 64 by default). A greenlet switches only
when a call would block; a client that keeps its socket full (it writes and reads at once)
never makes recv() block, so without the budget its greenlet keeps the one thread and every
other client, and accept, waits: the classic failure of a cooperative scheduler. The lab's
`flood fairness` scenario shows it with --budget 0, which is the notes' server as written.
"""

from gevent import monkey, spawn

monkey.patch_all()

import argparse  # noqa: E402  (after patch_all, as gevent asks)
import socket  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def talk(conn, addr, budget):
    left = budget
    try:
        while True:
            data = conn.recv(1024)  # the notes' recv(1024)
            if not data:
                log("[%s:%d] closed by peer" % addr)
                break
            conn.sendall(data.upper())
            left -= 1
            if left == 0:
                # Back to the hub, which polls every socket before it switches back here.
                left = budget
                gevent.sleep(0)
    except OSError as e:  # ConnectionResetError, BrokenPipeError
        log("[%s:%d] failed: %s" % (addr + (e,)))
    finally:
        conn.close()


def server(host, port, budget):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1024)
    print("listening on %s:%d" % s.getsockname()[:2], flush=True)
    while True:
        try:
            conn, addr = s.accept()
        except OSError as e:  # out of descriptors: pause, then serve the others
            log("accept failed:", e)
            gevent.sleep(0.05)
            continue
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log("[%s:%d] connected" % addr[:2])
        spawn(talk, conn, addr[:2], budget)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The notes' gevent server (一)")
    parser.add_argument("--addr", default="127.0.0.1:8080")
    parser.add_argument("--budget", type=int, default=64,
                        help="reads before a greenlet yields; 0 never yields, as in the notes")
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    spawn(server, host, int(port), args.budget).join()
