#!/usr/bin/env python3
"""Checks every Dockerfile of the repository (images/Dockerfile and any *Dockerfile*):

  * the base image is pinnable: FROM lines name stages, `scratch`, or ${BASE_IMAGE}, whose ARG
    default is a Debian 12 image and whose comment says how to pin it by digest;
  * every final image stage runs as a fixed numeric non-root USER (uid:gid, neither 0) equal to
    the uid the manifests run it as (images/Dockerfile's table, docs/images.md);
  * skr-init, skr-agent and skr-emulator are FROM scratch (no shell, no package manager);
  * no ADD (never a remote URL), no curl/wget piped into a shell;
  * no secret-looking ENV or ARG (password, secret, token, key material);
  * OCI labels version, source and licenses on every final stage.

Usage: check_dockerfiles.py [REPO_ROOT]   Prints one line per check and `N passed, N failed`.
"""

import contextlib
import io
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from checker import Checker  # noqa: E402

EXPECTED_USERS = {
    "skr-init": "10001:10001",
    "skr-agent": "10001:10002",
    "skr-emulator": "10900:10900",
    "skr-sample-app": "10100:10002",
}
SCRATCH_IMAGES = ("skr-init", "skr-agent", "skr-emulator")
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|CLIENT_SECRET|API_?KEY)", re.I)


def logical_lines(text):
    """Dockerfile lines with continuations joined and comments dropped."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not current and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            out.append(current.strip())
        current = ""
    return out


def stages(lines):
    """[(name, from, [instructions])] in file order."""
    result = []
    for line in lines:
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?\s*$", line, re.I)
        if m:
            result.append((m.group(2) or "", m.group(1), []))
        elif result:
            result[-1][2].append(line)
    return result



def check_dockerfile(path, text, c):
    lines = logical_lines(text)
    st = stages(lines)
    c.check(bool(st), f"{path}: has FROM stages")
    names = {name for name, _, _ in st}
    args = {}
    for line in lines:
        m = re.match(r"ARG\s+([A-Za-z_]+)(?:=(\S*))?", line)
        if m and m.group(2) is not None:
            args[m.group(1)] = m.group(2)

    base = args.get("BASE_IMAGE", "")
    c.check(bool(re.match(r"^(docker\.io/library/)?debian:bookworm-slim(@sha256:[0-9a-f]{64})?$", base)),
            f"{path}: ARG BASE_IMAGE defaults to Debian 12 slim ({base!r})")
    c.check("@sha256:<digest>" in text and "BASE_IMAGE=" in text,
            f"{path}: the comment says how to pin BASE_IMAGE by digest")
    for name, src, _ in st:
        ok = (src in names or src == "scratch" or src == "${BASE_IMAGE}" or
              re.fullmatch(r"\$\{BINARIES:-(\w+)\}", src) is not None)
        c.check(ok, f"{path}: stage {name or '(unnamed)'} FROM {src} is a stage, scratch or the pinnable base")
    for _, src, _ in st:
        m = re.fullmatch(r"\$\{BINARIES:-(\w+)\}", src)
        if m:
            c.check(m.group(1) in names and args.get("BINARIES") == m.group(1),
                    f"{path}: BINARIES defaults to the stage {m.group(1)} (ARG and FROM agree)")

    adds = [line for line in lines if re.match(r"ADD\s", line, re.I)]
    c.check(not adds, f"{path}: no ADD (COPY only; never a remote URL) {adds[:1]}")
    for line in lines:
        if re.search(r"(curl|wget)[^|]*\|\s*(ba)?sh", line):
            c.check(False, f"{path}: no download piped into a shell: {line[:80]}")
        m = re.match(r"(ENV|ARG)\s+([A-Za-z_][A-Za-z0-9_]*)", line)
        if m:
            c.check(not SECRET_NAME.search(m.group(2)), f"{path}: {m.group(1)} {m.group(2)} is not a secret")
    c.check(not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text), f"{path}: no private key")

    for image, user in EXPECTED_USERS.items():
        stage = [s for s in st if s[0] == image]
        if not stage:
            c.check(False, f"{path}: has a final stage {image}")
            continue
        _, src, body = stage[0]
        users = [l.split(None, 1)[1] for l in body if l.upper().startswith("USER ")]
        c.check(users[-1:] == [user], f"{path}: {image} runs as USER {user} (found {users})")
        numeric = [u for u in users if re.fullmatch(r"\d+:\d+", u)]
        c.check(len(numeric) == len(users) and users and
                all(int(x) != 0 for u in numeric for x in u.split(":")),
                f"{path}: {image} USER is numeric uid:gid and not root")
        if image in SCRATCH_IMAGES:
            c.check(src == "scratch", f"{path}: {image} is FROM scratch (no shell)")
            c.check(not any(re.match(r"RUN\s", l) for l in body), f"{path}: {image} runs nothing at build time")
        labels = " ".join(l for l in body if l.upper().startswith("LABEL "))
        for label in ("version", "source", "licenses"):
            c.check(f"org.opencontainers.image.{label}=" in labels,
                    f"{path}: {image} has label org.opencontainers.image.{label}")
        entry = [l for l in body if l.upper().startswith("ENTRYPOINT ")]
        c.check(bool(entry) and entry[-1].split(None, 1)[1].startswith("["),
                f"{path}: {image} has an exec-form ENTRYPOINT")


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    c = Checker()
    files = sorted(p for p in root.rglob("*Dockerfile*")
                   if not any(part in ("build", "node_modules", ".git") for part in p.parts))
    c.check(bool(files), f"found Dockerfiles: {[str(f.relative_to(root)) for f in files]}")
    for f in files:
        check_dockerfile(f.relative_to(root), f.read_text(encoding="utf-8"), c)
    # A negative control: the checker must catch a root USER, an ADD of a URL and a secret ENV.
    bad = ("ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE} AS skr-agent\n"
           "ADD https://example.invalid/x /x\nENV CLIENT_SECRET=abc\nUSER 0:0\n")
    probe = Checker()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check_dockerfile("negative-control", bad, probe)
    failures = [l for l in out.getvalue().splitlines() if l.startswith("FAIL")]
    for what in ("no ADD", "CLIENT_SECRET is not a secret", "skr-agent USER is numeric uid:gid and not root",
                 "skr-agent is FROM scratch"):
        c.check(any(what in l for l in failures), f"negative control: a bad Dockerfile fails '{what}'")
    print(f"dockerfiles: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
