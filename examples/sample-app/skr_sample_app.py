#!/usr/bin/env python3
"""skr sample app: envelope encryption with a key that only skr-agent holds.

The pattern every app of a confidential group uses:
  * a producer (anywhere, no secrets needed) makes a fresh 256-bit data key (DEK), encrypts its
    data with AES-256-GCM and wraps the DEK with the *public* half of the key-encryption key (KEK)
    under RSA-OAEP-256;
  * the app inside the group asks skr-agent to unwrap the DEK (the KEK's private half never leaves
    the agent) and decrypts the data itself.

Commands (the container runs `serve`):
  serve          wait until the agent is ready, run `demo` once, then stay up until SIGTERM
  demo           produce a sample with the KEK's public key, unwrap its DEK through the agent,
                 decrypt it and check the bytes; prints one JSON line; exit 0 only when all matched
  keys           GET /keys: prints the answer; exit 0 on 200, 3 when the agent refuses the caller
  wait           wait until the agent answers /readyz with 200 (at most --timeout seconds)

Environment: SKR_SOCKET (default /run/skr/sock/agent/agent.sock), SKR_KEY (default app-kek).
Only the Python standard library plus python3-cryptography (for the producer side).
"""

import base64
import http.client
import json
import os
import signal
import socket
import sys
import time

SOCKET = os.environ.get("SKR_SOCKET", "/run/skr/sock/agent/agent.sock")
KEY = os.environ.get("SKR_KEY", "app-kek")


class AgentError(Exception):
    def __init__(self, status, code, message):
        super().__init__(f"skr-agent answered {status} {code}: {message}")
        self.status = status


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over the agent's Unix domain socket."""

    def __init__(self, path, timeout=30):
        super().__init__("skr-agent", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def call(method, path, body=None, timeout=30):
    """One request; returns the decoded JSON answer or raises AgentError / OSError."""
    conn = UnixHTTPConnection(SOCKET, timeout)
    try:
        headers = {"X-SKR-Request": "1"}  # required: blocks request forgery through proxies
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read(1 << 20)
        answer = json.loads(raw) if raw else {}
        if response.status != 200:
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            raise AgentError(response.status, error.get("code", "?"), error.get("message", ""))
        return answer
    finally:
        conn.close()


def wait_ready(timeout):
    """ACI starts the containers of a group together: retry until the agent is ready."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            call("GET", "/readyz", timeout=5)
            return True
        except (OSError, AgentError, ValueError) as e:
            last = str(e)
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
    print(json.dumps({"event": "agent_not_ready", "socket": SOCKET, "last": last}), flush=True)
    return False


def produce(public_jwk, plaintext):
    """The producer side: needs only the KEK's public key (this is what runs outside the group)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    n = int.from_bytes(unb64url(public_jwk["n"]), "big")
    e = int.from_bytes(unb64url(public_jwk["e"]), "big")
    kek = rsa.RSAPublicNumbers(e, n).public_key()
    dek = AESGCM.generate_key(bit_length=256)
    iv = os.urandom(12)
    ciphertext = AESGCM(dek).encrypt(iv, plaintext, b"skr-sample")
    wrapped = kek.encrypt(
        dek,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    return {"kid": public_jwk["kid"], "wrapped_dek": b64url(wrapped), "iv": b64url(iv),
            "ciphertext": b64url(ciphertext)}


def consume(sample):
    """The app side: the agent unwraps the DEK with the version named in the sample's kid."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    version = sample["kid"].rstrip("/").rsplit("/", 1)[-1]
    answer = call("POST", f"/keys/{KEY}/{version}/unwrapkey",
                  {"alg": "RSA-OAEP-256", "value": sample["wrapped_dek"]})
    dek = unb64url(answer["value"])
    return AESGCM(dek).decrypt(unb64url(sample["iv"]), unb64url(sample["ciphertext"]),
                               b"skr-sample")


def demo():
    key = call("GET", f"/keys/{KEY}")["key"]
    plaintext = b"sample record " + os.urandom(8).hex().encode()
    sample = produce(key, plaintext)
    decrypted = consume(sample)
    ok = decrypted == plaintext
    print(json.dumps({"event": "sample_decrypted" if ok else "sample_mismatch",
                      "key": KEY, "kid": key["kid"], "bytes": len(plaintext)}), flush=True)
    return 0 if ok else 1


def main(argv):
    command = argv[1] if len(argv) > 1 else "serve"
    timeout = 120.0
    if "--timeout" in argv:
        timeout = float(argv[argv.index("--timeout") + 1])
    try:
        if command == "wait":
            return 0 if wait_ready(timeout) else 8
        if command == "keys":
            print(json.dumps(call("GET", "/keys")), flush=True)
            return 0
        if command == "demo":
            return demo()
        if command == "serve":
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            if not wait_ready(timeout):
                return 8
            code = demo()
            if code != 0:
                return code
            while True:
                signal.pause()
        print(__doc__, file=sys.stderr)
        return 2
    except AgentError as e:
        print(json.dumps({"event": "agent_error", "status": e.status, "error": str(e)}), flush=True)
        return 3 if e.status in (401, 403) else 1
    except (OSError, ValueError, KeyError) as e:
        print(json.dumps({"event": "error", "error": f"{type(e).__name__}: {e}"}), flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
