#!/usr/bin/env python3
"""A stand-in for skr-agent's POST /data/open (docs/encrypted-data.md), for skrctl open-data.

The last path segment of the requested "url" picks the answer:
  ok           200, chunked body = the bytes of PLAINTEXT in pieces of 64 KiB, X-SKR-Kid and
               X-SKR-Envelope headers, then the terminating zero-length chunk
  cut          as ok, but the connection closes after half the chunks (no terminating chunk)
  cut-inside   as ok, but the connection closes inside a chunk
  missing      404 BlobNotFound        denied      403 KeyMismatch
  corrupt      422 DataIntegrity       unavailable 503 StorageUnavailable (Retry-After: 1)
Every request is appended to LOG as one JSON line: {"path","x_skr_request","content_type","body"}.
Usage: fake_data_agent.py SOCKET PLAINTEXT LOG   (serves until SIGTERM)
"""
import json
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

socket_path, plaintext_path, log_path = sys.argv[1], sys.argv[2], sys.argv[3]
KID = "https://vault.example/keys/data-key/0123456789abcdef"
ERRORS = {
    "missing": (404, "BlobNotFound", "storage answered 404 for the blob"),
    "denied": (403, "KeyMismatch", "the envelope's kid is not a version of key 'data-key'"),
    "corrupt": (422, "DataIntegrity", "chunk 2 of 3 does not authenticate"),
    "unavailable": (503, "StorageUnavailable", "storage answered 503 three times"),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with open(log_path, "a") as log:
            log.write(json.dumps({"path": self.path,
                                  "x_skr_request": self.headers.get("X-SKR-Request"),
                                  "content_type": self.headers.get("Content-Type"),
                                  "body": body}) + "\n")
        mode = (body or {}).get("url", "").rsplit("/", 1)[-1]
        if mode in ERRORS:
            status, code, message = ERRORS[mode]
            out = json.dumps({"error": {"code": code, "message": message}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            if status == 503:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(out)
            return
        with open(plaintext_path, "rb") as f:
            data = f.read()
        pieces = [data[i:i + 65536] for i in range(0, len(data), 65536)]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-SKR-Kid", KID)
        self.send_header("X-SKR-Envelope", "chunked")
        self.end_headers()
        for i, piece in enumerate(pieces):
            if mode == "cut" and i == len(pieces) // 2:
                break
            if mode == "cut-inside" and i == len(pieces) // 2:
                self.wfile.write(b"%x\r\n" % len(piece) + piece[:len(piece) // 2])
                break
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        else:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


Server(socket_path, Handler).serve_forever()
