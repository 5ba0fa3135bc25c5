#!/usr/bin/env python3
"""A hostile HTTP server for the download tests (tests/integration/downloads.sh).

  httpd.py PORTFILE      listen on 127.0.0.1, an ephemeral port written to PORTFILE

  /ok.py        a small program (200)
  /trickle      512 KiB announced, sent at 2 KiB/s (above curl's low-speed limit)
  /loop         302 to itself: a redirect loop
  /big          5 MB, its size not announced (over a small storage.max_download_bytes)
  /gone         404
  /hits         how many requests each path got, as JSON (after the fact)

Each request is logged as one line on stderr.
"""
import collections
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HITS = collections.Counter()
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("httpd: " + (fmt % args) + "\n")

    def send(self, code, body, ctype="application/octet-stream", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        with LOCK:
            HITS[path] += 1
        if path == "/ok.py":
            self.send(200, b"import sys\nfor line in sys.stdin:\n    print('STAY', flush=True)\n")
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", str(512 * 1024))
            self.end_headers()
            try:
                for _ in range(1024):
                    self.wfile.write(b"#" * 512)
                    self.wfile.flush()
                    time.sleep(0.25)
            except OSError:
                pass
        elif path == "/loop":
            self.send(302, b"", extra=[("Location", "/loop")])
        elif path == "/big":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for _ in range(80):
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
        elif path == "/hits":
            with LOCK:
                body = json.dumps(HITS).encode()
            self.send(200, body, "application/json")
        else:
            self.send(404, b"not found\n", "text/plain")


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
