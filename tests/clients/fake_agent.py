#!/usr/bin/env python3
"""An always-busy stand-in for skr-agent: the retry part of tests/clients/clients_test.sh.

GET /readyz answers 200; every POST answers, per key name, 503 ServerBusy and 429 Throttled in
turn (odd and even requests), each with Retry-After: 2 and an AKV-shaped body whose innererror
carries another code (a client must report the outer one). Each POST is logged to LOG as
"<monotonic seconds> <path>".
Usage: fake_agent.py SOCKET LOG   (serves until SIGTERM)
"""
import json
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

socket_path, log_path = sys.argv[1], sys.argv[2]
counts, lock = {}, threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # Unix peers have no address; the test reads LOG instead
        pass

    def answer(self, status, body, headers=()):
        raw = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        self.answer(200 if self.path == "/readyz" else 404, {})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            n = counts[self.path] = counts.get(self.path, 0) + 1
            with open(log_path, "a") as log:
                log.write(f"{time.monotonic():.3f} {self.path}\n")
        status, code = (503, "ServerBusy") if n % 2 else (429, "Throttled")
        self.answer(status, {"error": {"code": code, "message": f"busy (request {n})",
                                       "innererror": {"code": "FakeInner"}}},
                    [("Retry-After", "2")])


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


Server(socket_path, Handler).serve_forever()
