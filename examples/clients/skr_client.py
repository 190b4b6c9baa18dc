#!/usr/bin/env python3
r"""Envelope encryption through skr-agent, Python standard library only.

Run:  SKR_AGENT_SOCKET=/path/agent.sock [SKR_AGENT_TOKEN=...] [SKR_KEY=app-kek] \
        [SKR_READY_TIMEOUT=30] \
        python3 skr_client.py seal FILE TEXT | open FILE | rewrap FILE
seal: a fresh 32-byte DEK wrapped under the key (A256KW); FILE keeps the wrapped DEK with its kid.
open: unwraps the DEK by the stored kid (versioned path) and prints the plaintext.
rewrap: after a rotation, moves the wrapped DEK to the primary version and stores the new kid.
The standard library has no AES: the text is sealed by the agent's own A256GCM route (an oct
key), its kid stored the same way. With python3-cryptography you would instead encrypt locally
with AESGCM(dek), as examples/sample-app does.
"""
import base64, http.client, json, os, secrets, socket, sys, time

SOCKET = os.environ.get("SKR_AGENT_SOCKET")
TOKEN = os.environ.get("SKR_AGENT_TOKEN")
KEY = os.environ.get("SKR_KEY", "app-kek")
READY_TIMEOUT = float(os.environ.get("SKR_READY_TIMEOUT", "30"))  # seconds
ALG = "A256KW"  # RSA-OAEP-256 for an RSA key
RETRYABLE = (429, 503)


class AgentError(Exception):
    def __init__(self, status, code, message):
        super().__init__(f"skr-agent: HTTP {status} {code}: {message}")
        self.status, self.code = status, code


class UnixConnection(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("skr", timeout=30)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(SOCKET)


def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
def unb64(text): return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def send(method, path, body=None):
    headers = {"X-SKR-Request": "1", "Content-Type": "application/json"}
    if TOKEN:
        headers["Authorization"] = f"Bearer {TOKEN}"
    conn = UnixConnection()
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Retry-After"), resp.read()
    finally:
        conn.close()


def call(method, path, body=None, attempts=5):
    """One request; 429/503 are retried after Retry-After (bounded), other errors raise."""
    for attempt in range(attempts):
        status, retry_after, raw = send(method, path, body)
        if status < 300:
            return json.loads(raw)
        if status not in RETRYABLE or attempt == attempts - 1:
            try:
                error = json.loads(raw)["error"]
            except (ValueError, KeyError, TypeError):
                error = {}
            message = error.get("message") or raw[:200].decode(errors="replace")
            raise AgentError(status, error.get("code", "?"), message)
        wait = int(retry_after) if (retry_after or "").isdigit() else 0.2 * 2 ** (attempt + 1)
        time.sleep(min(wait, 10))


def wait_ready(budget=READY_TIMEOUT):
    """GET /readyz with exponential backoff (0.1 s doubling, at most 2 s) for at most `budget` s."""
    deadline, delay, last = time.monotonic() + budget, 0.1, "no answer"
    while time.monotonic() < deadline:
        try:
            status, _, raw = send("GET", "/readyz")
            if status == 200:
                return
            last = f"HTTP {status} {raw[:120]!r}"
        except OSError as e:  # socket not there yet, or the agent restarting
            last = str(e)
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
    raise TimeoutError(f"skr-agent at {SOCKET} not ready after {budget:.0f} s: {last}")


def version(kid): return kid.rstrip("/").rsplit("/", 1)[-1]


def main(cmd, path, text=None):
    wait_ready()
    if cmd == "seal":
        dek = secrets.token_bytes(32)
        wrapped = call("POST", f"/keys/{KEY}/wrapkey", {"alg": ALG, "value": b64(dek)})
        data = call("POST", f"/keys/{KEY}/encrypt", {"alg": "A256GCM", "value": b64(text.encode())})
        envelope = {"kid": wrapped["kid"], "alg": ALG, "wrapped_dek": wrapped["value"],
                    "data_kid": data["kid"], "iv": data["iv"], "tag": data["tag"],
                    "ciphertext": data["value"]}
        with open(path, "w") as f:
            json.dump(envelope, f)
        print(f"sealed under {wrapped['kid']}")
        return
    with open(path) as f:
        env = json.load(f)
    if cmd == "open":  # at start-up: the stored kid names the version that wrapped the DEK
        dek = unb64(call("POST", f"/keys/{KEY}/{version(env['kid'])}/unwrapkey",
                         {"alg": env["alg"], "value": env["wrapped_dek"]})["value"])
        assert len(dek) == 32, "unwrapped DEK is not 32 bytes"
        plain = call("POST", f"/keys/{KEY}/{version(env['data_kid'])}/decrypt",
                     {"alg": "A256GCM", "value": env["ciphertext"], "iv": env["iv"],
                      "tag": env["tag"]})
        print("plaintext: " + unb64(plain["value"]).decode())
    elif cmd == "rewrap":
        moved = call("POST", f"/keys/{KEY}/rewrap",
                     {"kid": env["kid"], "alg": env["alg"], "value": env["wrapped_dek"]})
        print(f"rewrapped: {env['kid']} -> {moved['kid']}")
        env.update(kid=moved["kid"], wrapped_dek=moved["value"])
        with open(path, "w") as f:
            json.dump(env, f)


if __name__ == "__main__":
    arity = {"seal": 4, "open": 3, "rewrap": 3}.get(sys.argv[1] if len(sys.argv) > 1 else "")
    if not SOCKET or len(sys.argv) != arity:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        main(*sys.argv[1:])
    except (AgentError, TimeoutError, OSError) as e:
        sys.exit(str(e))
