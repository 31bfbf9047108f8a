#!/usr/bin/env python3
"""receiver.py: a webhook receiver for the integration tests (stdlib only).

Listens on 127.0.0.1, port 0 (the kernel picks one), and writes the port to
--port-file once it accepts connections. Answers every request (any method)
with the statuses of --script in turn ("503,200": 503 first, then 200 for
every later request: the last one repeats). --retry-after VALUE adds a
Retry-After header (seconds or an HTTP date, sent as given) to non-2xx
answers; --delay S waits S seconds (float) before answering. Appends one JSON
line per request to --log: {"path", "method", "headers", "body" (the parsed
JSON when it parses, else the text), "status" (the one answered), "t" (unix
time it arrived)}. Exits 0 on SIGTERM or SIGINT.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse_args():
    p = argparse.ArgumentParser(description="webhook receiver for tests")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--script", default="200",
                   help="comma-separated statuses, used in turn; the last repeats")
    p.add_argument("--retry-after", default=None,
                   help="Retry-After value added to non-2xx answers")
    p.add_argument("--delay", type=float, default=0.0,
                   help="seconds to wait before answering")
    a = p.parse_args()
    try:
        a.statuses = [int(s) for s in a.script.split(",") if s.strip()]
    except ValueError:
        p.error("--script: comma-separated integers expected")
    if not a.statuses or any(s < 100 or s > 599 for s in a.statuses):
        p.error("--script: statuses between 100 and 599 expected")
    return a


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.count = 0
        self.log = open(args.log, "a", encoding="utf-8")

    def next_status(self):
        with self.lock:
            i = min(self.count, len(self.args.statuses) - 1)
            self.count += 1
            return self.args.statuses[i]

    def record(self, entry):
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()


def read_body(handler):
    """The request body: Content-Length or chunked transfer coding."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length", "0") or "0")
    return handler.rfile.read(length) if length > 0 else b""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs of concurrent clients


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "receiver.py"
    state = None  # set in main

    def handle_any(self):
        t = time.time()
        raw = read_body(self)
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        status = self.state.next_status()
        self.state.record({
            "path": self.path,
            "method": self.command,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body,
            "status": status,
            "t": t,
        })
        if self.state.args.delay > 0:
            time.sleep(self.state.args.delay)
        reply = json.dumps({"status": status}).encode()
        try:
            self.send_response(status)
            if self.state.args.retry_after is not None and not 200 <= status < 300:
                self.send_header("Retry-After", self.state.args.retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_POST = handle_any
    do_PUT = handle_any
    do_GET = handle_any

    def log_message(self, fmt, *args):
        pass


def main():
    args = parse_args()
    Handler.state = State(args)
    server = Server(("127.0.0.1", 0), Handler)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.1)
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
