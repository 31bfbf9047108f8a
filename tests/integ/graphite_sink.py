#!/usr/bin/env python3
"""Graphite plaintext (carbon line protocol) sink for tallyd's integration tests.

tallyd keeps ONE connection to Graphite open and writes every flush on it, so
this sink never splits by connection: it appends every complete line it
receives, from any connection, to DIR/lines.txt (flushed after each read), and
the tests pick one flush out of that file by its timestamp (all lines of a
flush share one timestamp). Listens on 127.0.0.1 only.

  graphite_sink.py serve DIR
      binds 127.0.0.1 port 0 and writes the port to DIR/port (temp + rename);
      DIR/conns.txt holds "accepted N" and "open N", rewritten on every change.
  graphite_sink.py timestamps DIR
      prints the distinct timestamps of DIR/lines.txt in order of arrival.
  graphite_sink.py wait DIR --after TS --count N [--timeout S]
      waits until N distinct timestamps greater than TS have arrived and prints
      them; exit 1 on timeout.
  graphite_sink.py select DIR TS
      prints the lines whose timestamp is TS, in arrival order.
  graphite_sink.py dupes DIR
      prints "name ts" for every name sent more than once with one timestamp
      (two flushes sharing a timestamp: Graphite keeps only the last value).
"""
import argparse
import os
import socket
import sys
import threading
import time


def serve(d):
    os.makedirs(d, exist_ok=True)
    out = open(os.path.join(d, "lines.txt"), "ab", buffering=0)
    lock = threading.Lock()
    state = {"accepted": 0, "open": 0}

    def write_conns():
        tmp = os.path.join(d, "conns.txt.tmp")
        with open(tmp, "w") as f:
            f.write("accepted %d\nopen %d\n" % (state["accepted"], state["open"]))
        os.rename(tmp, os.path.join(d, "conns.txt"))

    def handle(conn):
        pending = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                pending += chunk
                cut = pending.rfind(b"\n")
                if cut >= 0:
                    with lock:
                        out.write(pending[: cut + 1])
                    pending = pending[cut + 1:]
        except OSError:
            pass
        finally:
            conn.close()
            with lock:
                if pending:
                    # A partial last line: keep it visible, marked, so a
                    # test can see that a sender cut a line.
                    out.write(b"#PARTIAL " + pending + b"\n")
                state["open"] -= 1
                write_conns()

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with lock:
        write_conns()
    tmp = os.path.join(d, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(tmp, os.path.join(d, "port"))
    while True:
        conn, _ = srv.accept()
        with lock:
            state["accepted"] += 1
            state["open"] += 1
            write_conns()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def read_lines(d):
    try:
        with open(os.path.join(d, "lines.txt"), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return data.decode("utf-8", "replace").split("\n")[:-1]


def line_ts(line):
    parts = line.rsplit(" ", 1)
    if len(parts) != 2 or line.startswith("#"):
        return None
    try:
        return int(parts[1])
    except ValueError:
        return None


def timestamps(d):
    seen = []
    for line in read_lines(d):
        ts = line_ts(line)
        if ts is not None and ts not in seen:
            seen.append(ts)
    return seen


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("dir")
    p = sub.add_parser("timestamps")
    p.add_argument("dir")
    p = sub.add_parser("wait")
    p.add_argument("dir")
    p.add_argument("--after", type=int, default=0)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--timeout", type=float, default=30)
    p = sub.add_parser("select")
    p.add_argument("dir")
    p.add_argument("ts", type=int)
    p = sub.add_parser("dupes")
    p.add_argument("dir")
    a = ap.parse_args()

    if a.cmd == "serve":
        try:
            serve(a.dir)
        except KeyboardInterrupt:
            pass
    elif a.cmd == "timestamps":
        for ts in timestamps(a.dir):
            print(ts)
    elif a.cmd == "wait":
        deadline = time.monotonic() + a.timeout
        while True:
            newer = [ts for ts in timestamps(a.dir) if ts > a.after]
            if len(newer) >= a.count:
                for ts in newer[: a.count]:
                    print(ts)
                return 0
            if time.monotonic() > deadline:
                sys.stderr.write("graphite_sink: %d of %d flushes after %d within %gs\n"
                                 % (len(newer), a.count, a.after, a.timeout))
                return 1
            time.sleep(0.02)
    elif a.cmd == "dupes":
        seen = set()
        for line in read_lines(a.dir):
            parts = line.split(" ")
            if line.startswith("#") or len(parts) != 3:
                continue
            key = (parts[0], parts[2])
            if key in seen:
                print("%s %s" % key)
            seen.add(key)
    elif a.cmd == "select":
        for line in read_lines(a.dir):
            if line_ts(line) == a.ts:
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
