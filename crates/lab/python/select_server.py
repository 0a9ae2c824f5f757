"""五 IO多路复用: the notes' select server, kept in the lab as a yardstick.

`cargo lab bench` runs it beside the Rust servers, so a student of the Python course sees
their own starting point on the same chart. It keeps the notes' shape: r_list, w_list and
w_data, one select.select() per loop, recv(1024) and data.upper(). Run it:

    python3 crates/lab/python/select_server.py --addr 127.0.0.1:8080
    nc 127.0.0.1 8080

It differs from the notes only where the lab's scenarios (tests/bench.rs runs them against
it) catch the notes' version losing bytes:
- w_data[conn] is a buffer that grows, not one value: a 16 KiB message arrives in several
  recv(1024) calls, and the notes' `w_data[r] = data.upper()` overwrote an unsent reply.
- send() may take only part of a reply: the rest stays in w_data for the next round.
- A client that half-closes (recv returns b'') still gets every reply before we close.
- A client that never reads stops being read once 64 KiB are waiting for it (backpressure).
- No print per loop: the notes print len(r_list) every time, which would be all we measure.
select() takes only descriptors below FD_SETSIZE (1024): about 1000 clients at most.
"""

import argparse
import select
import socket
import sys

READ_SIZE = 1024  # the notes' recv(1024)
MAX_PENDING = 64 * 1024  # stop reading a client with this much unsent (protocol's bound)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description="The notes' select server (五)")
    parser.add_argument("--addr", default="127.0.0.1:8080")
    host, port = parser.parse_args().addr.rsplit(":", 1)

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(1024)
    s.setblocking(False)
    print("listening on %s:%d" % s.getsockname()[:2], flush=True)

    r_list = [s]
    w_list = []
    w_data = {}  # conn -> bytearray of replies not yet sent
    closing = set()  # conns that half-closed: close once w_data[conn] is sent
    peers = {}

    def close(conn, why):
        log("[%s:%d] %s" % (peers.pop(conn) + (why,)))
        for lst in (r_list, w_list):
            if conn in lst:
                lst.remove(conn)
        w_data.pop(conn, None)
        closing.discard(conn)
        conn.close()

    while True:
        rl, wl, _ = select.select(r_list, w_list, [])

        # 收消息 (receive)
        for r in rl:
            if r is s:
                try:
                    conn, addr = s.accept()
                except (BlockingIOError, ConnectionAbortedError):
                    continue
                except OSError as e:  # out of descriptors: log, serve the others
                    log("accept failed:", e)
                    continue
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                peers[conn] = addr[:2]
                log("[%s:%d] connected" % addr[:2])
                r_list.append(conn)
                w_data[conn] = bytearray()
                continue
            if r not in peers:  # closed earlier in this loop
                continue
            try:
                data = r.recv(READ_SIZE)
            except BlockingIOError:
                continue
            except OSError as e:  # ConnectionResetError and friends
                close(r, "read failed: %s" % e)
                continue
            if not data:  # EOF: close, or half-close with replies still owed
                if w_data[r]:
                    r_list.remove(r)
                    closing.add(r)
                else:
                    close(r, "closed by peer")
                continue
            if not w_data[r]:
                w_list.append(r)
            w_data[r] += data.upper()
            if len(w_data[r]) >= MAX_PENDING:
                r_list.remove(r)  # backpressure: read again once it has taken some

        # 发消息 (send)
        for w in wl:
            if w not in peers:
                continue
            try:
                sent = w.send(w_data[w])
            except BlockingIOError:
                continue
            except OSError as e:  # BrokenPipeError, ConnectionResetError
                close(w, "write failed: %s" % e)
                continue
            del w_data[w][:sent]
            if w_data[w]:
                continue
            w_list.remove(w)
            if w in closing:
                close(w, "closed by peer; every reply sent")
            elif w not in r_list:
                r_list.append(w)


if __name__ == "__main__":
    main()
