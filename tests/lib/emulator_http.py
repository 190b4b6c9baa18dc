"""Helpers the Python tests share to drive a running skr-emulator (its admin API and the emulated
Azure endpoints over HTTPS with the emulator's CA)."""
import json
import re
import ssl
import urllib.request
from pathlib import Path


def http_json(method, url, body=None, headers=None, ca=None):
    """One JSON request; the parsed answer ({} for an empty body). HTTP errors raise
    urllib.error.HTTPError."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    context = ssl.create_default_context(cafile=ca) if url.startswith("https") else None
    with urllib.request.urlopen(req, context=context, timeout=30) as resp:
        text = resp.read().decode()
        return json.loads(text) if text.strip() else {}


def read_env_file(path: Path):
    """The NAME=value lines of the emulator's env file (`skr-emulator --env-file`), quotes removed."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^(?:export\s+)?([A-Z0-9_]+)=(.*)$", line.strip())
        if m:
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[m.group(1)] = value
    return out
