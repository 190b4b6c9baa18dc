#!/usr/bin/env python3
"""ctest "docs: agent-api.yaml describes every answer of a live agent".

Starts skr-emulator, creates RSA keys (Key Vault) and 256-bit oct keys (Managed HSM, one limited by
key_ops) with a release policy, releases them with skr-init and serves them with skr-agent
(HTTP/1.1 on Unix sockets), then drives every route of docs/agent-api.yaml on the client and the
admin socket, and of docs/agent-sidecar-api.yaml on the sidecar-compat socket, for success and for
errors. Each answer is checked against its document:

  - the path is a documented route (else it must be 404 NotFound), the method one of its
    methods (else 405 with Allow naming them: components.responses.MethodNotAllowed);
  - the status is one the operation lists (or `default` for the HTTP-layer statuses the
    document names there);
  - every header the response marks required is present and matches its schema, and every
    answer has Cache-Control: no-store;
  - the Content-Type is one of the response's media types and the body validates against the
    JSON schema (Draft 2020-12, $refs resolved in the document);
  - and what the test itself expects (status, error code, inner code).

The reverse check: every documented route was called (else the test fails); a table of the
statuses seen per route, and the route-specific ones documented but not seen, is printed.

An agent that is not ready (a configured key it may not release) is checked first; then the same
keys with release_on_start: if-missing, and the full run. Last, with the emulator stopped, a
rotation must be 503. Key material and tokens are never printed.

Usage: agent_api_test.py --build BUILD_DIR [--repo SOURCE_DIR] [--doc FILE] [--keep]
  --doc   another agent-api.yaml (agent-sidecar-api.yaml is read from its directory), e.g. a
          deliberately broken copy to see the test fail
Exit 0 when every answer matched, 1 otherwise (each mismatch printed: route, status, JSON path).
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import warnings
from pathlib import Path

import jsonschema
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from emulator_http import http_json, read_env_file  # noqa: E402

# The agent.data.sources prefix of the test's agent: a loopback port where nothing listens.
DATA_SOURCE = "https://127.0.0.1:9/devstoreaccount1/enc/"

# Statuses the document leaves to `default` (components.responses.OtherError).
DEFAULT_STATUSES = {414, 417, 500, 501, 505}


class Fatal(Exception):
    """A step the rest of the run depends on failed."""


# ------------------------------------------------------------------------------------------------
# HTTP over a Unix domain socket

class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX: the host name only fills the Host header."""

    def __init__(self, path, timeout=30.0):
        super().__init__("skr", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body
        self.json = None
        ctype = headers.get("content-type", "")
        if ctype.startswith("application/json") and body:
            try:
                self.json = json.loads(body)
            except ValueError:
                self.json = None

    def code(self):
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"].get("code")
        return None


def read_answer(response):
    body = response.read()
    headers = {k.lower(): v for k, v in response.getheaders()}
    return Answer(response.status, headers, body)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ------------------------------------------------------------------------------------------------
# The document and the checks against it

class Contract:
    def __init__(self, name, doc, mismatches):
        self.name = name
        self.doc = doc
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resolver = jsonschema.RefResolver(base_uri="", referrer=doc)
        self.templates = []  # (template, segments)
        for template in doc["paths"]:
            self.templates.append((template, template.strip("/").split("/")))
        self.methods = ("get", "post", "put", "delete", "patch", "head", "options", "trace")
        self.seen = {}  # (template, METHOD) -> {status: set(listeners)}
        self.undeclared = []  # (listener, METHOD, path, status): 404 / 405 answers
        self.mismatches = mismatches  # shared by the documents

    # -- lookup --
    def route(self, path):
        """The documented path template for a request path; concrete segments win (as the
        router's table: /keys/{name}/rewrap is not version 'rewrap')."""
        segments = path.split("?", 1)[0].strip("/").split("/")
        best, best_literals = None, -1
        for template, parts in self.templates:
            if len(parts) != len(segments):
                continue
            literals = 0
            for want, got in zip(parts, segments):
                if want.startswith("{"):
                    if not got:
                        break
                elif want != got:
                    break
                else:
                    literals += 1
            else:
                if literals > best_literals:
                    best, best_literals = template, literals
        return best

    def deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj and len(obj) == 1:
            _, obj = self.resolver.resolve(obj["$ref"])
        return obj

    def validate(self, schema, instance):
        validator = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
        out = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            if error.context:  # oneOf / anyOf: the branch that came closest says why
                error = self.closest(error)
            where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                  for p in error.absolute_path)
            if error.validator in ("required", "additionalProperties", "dependentRequired",
                                   "unevaluatedProperties"):
                detail = error.message[:200]
            else:
                # The value only when short: answers carry key material and tokens.
                shown = error.instance if not isinstance(error.instance, (str, dict, list)) or \
                    len(json.dumps(error.instance)) <= 40 else "<value not shown>"
                detail = (f"{json.dumps(shown) if shown != '<value not shown>' else shown} "
                          f"fails '{error.validator}': "
                          f"{json.dumps(error.validator_value)[:160]}")
            out.append(f"{where}: {detail}")
        return out

    @staticmethod
    def closest(error):
        """Of a oneOf/anyOf's branches, the one whose discriminating consts (kty, ...) held and
        that failed least; its first error."""
        branches = {}
        for e in error.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
        ranked = sorted(branches.values(),
                        key=lambda es: (any(e.validator in ("const", "type") for e in es),
                                        len(es)))
        return ranked[0][0]

    # -- one answer --
    def check(self, listener, method, path, answer, expect_status=None, expect_code=None,
              expect_inner=None, note=""):
        """Checks `answer` against the document and the test's expectation; records coverage."""
        where = f"{listener} {method} {path} -> {answer.status}"
        problems = []
        template = self.route(path)
        if template is None:
            response = self.doc["components"]["responses"]["NotFound"]
            if answer.status != 404:
                problems.append(f"not a documented route, so 404 NotFound was expected")
            self.undeclared.append((listener, method, path, answer.status))
            label = ("(no route)", method)
        else:
            item = self.doc["paths"][template]
            operation = item.get(method.lower())
            label = (template, method)
            if operation is None:
                response = self.doc["components"]["responses"]["MethodNotAllowed"]
                allowed = sorted(m.upper() for m in self.methods if m in item)
                if answer.status != 405:
                    problems.append(f"{method} is not documented for {template}, so 405 "
                                    "MethodNotAllowed was expected")
                elif answer.headers.get("allow", "") not in allowed:
                    problems.append(f"Allow: {answer.headers.get('allow')!r}, the document "
                                    f"has {allowed}")
                self.undeclared.append((listener, method, path, answer.status))
                label = (template, f"{method} (undeclared)")
            else:
                responses = operation["responses"]
                key = str(answer.status)
                if key in responses:
                    response = responses[key]
                elif "default" in responses and answer.status in DEFAULT_STATUSES:
                    response = responses["default"]
                else:
                    response = None
                    problems.append(f"status {answer.status} is not documented for {method} "
                                    f"{template} (documented: {', '.join(sorted(responses))})")
        if answer.headers.get("cache-control") != "no-store":
            problems.append("no 'Cache-Control: no-store' (info.description: every answer has it)")
        if response is not None:
            response = self.deref(response)
            for name, header in (response.get("headers") or {}).items():
                header = self.deref(header)
                value = answer.headers.get(name.lower())
                if value is None:
                    if header.get("required"):
                        problems.append(f"required header {name} is missing")
                    continue
                if "schema" in header:
                    for p in self.validate(header["schema"], value):
                        problems.append(f"header {name}: {p}")
            content = response.get("content") or {}
            ctype = answer.headers.get("content-type", "")
            media = None
            for documented in content:
                if ctype == documented or ctype.split(";")[0].strip() == documented.split(";")[0]:
                    media = content[documented]
                    break
            if content and media is None:
                problems.append(f"Content-Type {ctype!r} is not one of {sorted(content)}")
            elif media is not None and "schema" in media:
                if ctype.startswith("application/json"):
                    try:
                        instance = json.loads(answer.body)
                    except ValueError as e:
                        instance = None
                        problems.append(f"body is not JSON: {e}")
                    if instance is not None:
                        problems.extend(self.validate(media["schema"], instance))
                else:
                    problems.extend(self.validate(media["schema"],
                                                  answer.body.decode("utf-8", "replace")))
        if expect_status is not None and answer.status != expect_status:
            problems.append(f"the test expected {expect_status}"
                            + (f" {expect_code}" if expect_code else "")
                            + f", got {answer.status} {answer.code() or ''}".rstrip()
                            + (f" ({self.message(answer)})" if answer.code() else ""))
        elif expect_code is not None and answer.code() != expect_code:
            problems.append(f"the test expected error code {expect_code}, got {answer.code()}")
        if expect_inner is not None:
            inner = (answer.json or {}).get("error", {}).get("innererror", {}).get("code")
            if inner != expect_inner:
                problems.append(f"the test expected innererror.code {expect_inner}, got {inner}")
        self.seen.setdefault(label, {}).setdefault(answer.status, set()).add(listener)
        status_text = f"{answer.status}" + (f" {answer.code()}" if answer.code() else "")
        if problems:
            for p in problems:
                self.mismatches.append(f"{listener} {method} {path} [{status_text}]: {p}")
            print(f"  MISMATCH {where} {note}".rstrip())
            for p in problems:
                print(f"      {p}")
        else:
            print(f"  ok  {listener:6} {method:6} {path[:70]:70} {status_text} {note}".rstrip())
        return answer

    @staticmethod
    def message(answer):
        try:
            return answer.json["error"]["message"][:160]
        except (TypeError, KeyError):
            return ""

    def request_schema(self, template, method):
        operation = self.doc["paths"][template][method.lower()]
        body = self.deref(operation["requestBody"])
        return body["content"]["application/json"]["schema"]

    # -- the reverse check --
    # Answers of the HTTP layer and of the caller checks: the same on every route, so the summary
    # counts them over all routes instead of listing each route's unseen ones.
    GENERIC = {"BadRequest", "Unauthorized", "Forbidden", "RequestTimeout", "PayloadTooLarge",
               "HeaderTooLarge", "Unavailable", "OtherError", "HttpLayer", "Busy"}

    def coverage(self):
        """Prints routes x statuses; returns the documented routes never called."""
        never = []
        generic = {}  # (status, response name) -> [routes seen on, routes documented on]
        print(f"\ncoverage of {self.name}: route: statuses seen (listeners) | route-specific "
              "statuses documented, not seen")
        for template in self.doc["paths"]:
            item = self.doc["paths"][template]
            for m in self.methods:
                if m not in item:
                    continue
                seen = self.seen.get((template, m.upper()), {})
                missing = []
                for k, response in item[m]["responses"].items():
                    name = response.get("$ref", "").rsplit("/", 1)[-1]
                    status = int(k) if k != "default" else None
                    if name in self.GENERIC:
                        entry = generic.setdefault((k, name), [0, 0])
                        entry[1] += 1
                        entry[0] += 1 if status in seen or (
                            status is None and DEFAULT_STATUSES & set(seen)) else 0
                    elif status not in seen:
                        missing.append(k)
                shown = ", ".join(f"{s} ({'+'.join(sorted(ls))})" for s, ls in sorted(seen.items()))
                print(f"  {m.upper():5} {template:34} {shown or 'NEVER CALLED'}"
                      + (f" | not seen: {', '.join(missing)}" if missing else ""))
                if not seen:
                    never.append(f"{self.name}: {m.upper()} {template}")
        print("  answers every route can give (HTTP layer, caller checks): routes seen on / "
              "documented on")
        for (k, name), (on, of) in sorted(generic.items()):
            print(f"    {k:7} {name:16} {on}/{of}")
        print("  undeclared method or path (405 / 404):")
        for (template, label), statuses in sorted(self.seen.items(), key=lambda x: str(x[0])):
            if "(undeclared)" in label or template == "(no route)":
                print(f"    {label:19} {template:34} "
                      + ", ".join(f"{s} ({'+'.join(sorted(ls))})"
                                  for s, ls in sorted(statuses.items())))
        return never


# ------------------------------------------------------------------------------------------------
# The world: emulator, keys, skr-init, skr-agent

def stop(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class World:
    def __init__(self, build, work):
        self.build = Path(build)
        self.work = Path(work)
        self.emulator = self.build / "emulator" / "skr-emulator"
        self.init = self.build / "init" / "skr-init"
        self.agent_bin = self.build / "agent" / "skr-agent"
        self.skrctl = self.build / "ctl" / "skrctl"
        for binary in (self.emulator, self.init, self.agent_bin, self.skrctl):
            if not os.access(binary, os.X_OK):
                raise Fatal(f"{binary} is not built (targets skr-emulator skr-init skr-agent "
                            "skrctl)")
        self.emu = None
        self.agent = None
        self.env = {}
        self.token = secrets.token_urlsafe(24)  # the bearer token of rule 'tokened'; never printed
        self.run_dir = self.work / "run"
        self.client_socket = str(self.run_dir / "agent.sock")
        self.admin_socket = str(self.run_dir / "admin.sock")
        self.compat_socket = str(self.run_dir / "compat.sock")

    def start_emulator(self):
        log = open(self.work / "emulator.log", "w")
        self.emu = subprocess.Popen([str(self.emulator), "--state", str(self.work / "emu")],
                                    stdout=log, stderr=log)
        env_file = self.work / "emu" / "endpoints.env"
        for _ in range(300):
            if env_file.exists() or self.emu.poll() is not None:
                break
            time.sleep(0.1)
        if not env_file.exists():
            raise Fatal("skr-emulator did not start: " +
                        (self.work / "emulator.log").read_text()[-2000:])
        self.env = read_env_file(env_file)
        self.admin = self.env["SKR_EMULATOR_ADMIN_URL"] + "/_emulator"
        self.ca = self.env["SKR_EMULATOR_CA_FILE"]

    def prepare(self):
        """As scripts/lib/emulator.sh: a chip HOST_DATA, an identity with the officer and release
        roles on both vaults, a release policy for that HOST_DATA."""
        self.hostdata = secrets.token_hex(32)
        http_json("PUT", self.admin + "/chip", {"host_data": self.hostdata, "debug": False})
        identity = http_json("POST", self.admin + "/identities",
                             {"kind": "user", "name": "agent-api-test"})
        self.client_id = identity["client_id"]
        for role, vault in (("Key Vault Crypto Officer", "vault"),
                            ("Managed HSM Crypto Officer", "mhsm"),
                            ("Managed HSM Crypto Service Release User", "mhsm")):
            http_json("POST", self.admin + "/role-assignments",
                      {"principal_id": identity["object_id"], "role": role, "vault": vault})
        result = subprocess.run([str(self.skrctl), "release-policy", "--authority",
                                 self.env["SKR_EMULATOR_MAA_URL"], "--hostdata", self.hostdata,
                                 "--no-uvm-compliance", "--wire"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise Fatal(f"skrctl release-policy: {result.stderr.strip()}")
        self.policy = json.loads(result.stdout)

    def create_key(self, where, name, spec):
        if where == "mhsm":
            url, resource = self.env["SKR_EMULATOR_MHSM_URL"], "https://managedhsm.azure.net"
        else:
            url, resource = self.env["SKR_EMULATOR_VAULT_URL"], "https://vault.azure.net"
        token = http_json("GET", self.env["SKR_EMULATOR_IMDS_URL"] +
                          "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" +
                          urllib.parse.quote(resource, safe="") + "&client_id=" + self.client_id,
                          headers={"Metadata": "true"})["access_token"]
        created = http_json("POST", f"{url}/keys/{name}/create?api-version=7.4",
                            {**spec, "attributes": {"exportable": True},
                             "release_policy": self.policy},
                            headers={"Authorization": "Bearer " + token}, ca=self.ca)
        return created["key"]["kid"]

    def config(self, keys, release_on_start):
        uid = os.getuid()
        key_list = []
        for name, where in keys:
            if where == "mhsm":
                key_list.append({"name": name, "mhsm": self.env["SKR_EMULATOR_MHSM_URL"],
                                 "enc": "RSA_AES_KEY_WRAP_384"})
            else:
                key_list.append({"name": name, "vault": self.env["SKR_EMULATOR_VAULT_URL"]})
        return {
            "platform": {"kind": "emulated", "chip_dir": self.env["SKR_EMULATOR_CHIP_DIR"]},
            "attestation": {"maa_endpoint": self.env["SKR_EMULATOR_MAA_URL"],
                            "collateral": {"sources": ["thim"],
                                           "thim_url": self.env["SKR_EMULATOR_IMDS_URL"] +
                                           "/metadata/THIM/amd/certification"}},
            "identity": {"kind": "managed", "imds_endpoint": self.env["SKR_EMULATOR_IMDS_URL"],
                         "client_id": self.client_id},
            "keys": key_list,
            "state_dir": str(self.work / "state"),
            "seal": {"provider": "emulated"},
            "tls": {"ca_file": self.ca},
            # A dependency that is down fails a rotation within seconds.
            "retry": {"max_attempts": 2, "base": "100ms", "cap": "1s", "overall": "10s"},
            "agent": {
                "client_socket": self.client_socket,
                "admin_socket": self.admin_socket,
                "clients": [
                    {"name": "app", "uids": [uid], "operations": ["*"], "keys": ["*"]},
                    # A second rule for the same uid that wants a token: a wrong one is 401.
                    {"name": "tokened", "uids": [uid], "operations": ["events"], "keys": ["*"],
                     "token_sha256": hashlib.sha256(self.token.encode()).hexdigest()},
                    # The sidecar-compat operations are granted only by name.
                    {"name": "legacy", "uids": [uid], "operations": ["attest", "release"],
                     "keys": ["data-kek"]},
                ],
                "compat": {"azure_sidecar": {"enabled": True, "socket": self.compat_socket}},
                "admin_uids": [uid],
                "release_on_start": release_on_start,
                # One waiting /events poll at a time (workers - 1): the second is 429.
                "workers": 2,
                # A request head not in within 400 ms is 408.
                "limits": {"header_timeout": 400},
                # POST /data/open may fetch only under this prefix (nothing listens there).
                "data": {"sources": [DATA_SOURCE]},
            },
            "log": {"format": "json", "level": "info"},
        }

    def run_init(self, cfg):
        result = subprocess.run([str(self.init), "--timeout", "60s"],
                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                     "SKR_CONFIG_YAML": yaml.safe_dump(cfg)},
                                capture_output=True, text=True)
        (self.work / "skr-init.log").write_text(result.stderr)
        if result.returncode != 0:
            raise Fatal(f"skr-init exit {result.returncode}: {result.stderr.strip()[-1500:]}")

    def start_agent(self, cfg, label):
        path = self.work / f"skr-{label}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        self.agent_log = self.work / f"agent-{label}.log"
        log = open(self.agent_log, "w")
        self.agent = subprocess.Popen([str(self.agent_bin), "--config", str(path)],
                                      stdout=log, stderr=log)
        for _ in range(300):
            if self.agent.poll() is not None:
                break
            if os.path.exists(self.admin_socket):
                try:
                    if self.raw_get(self.admin_socket, "/healthz") == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise Fatal("skr-agent did not start serving: " + self.agent_log.read_text()[-2000:])

    def wait_ready(self, seconds=90):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.agent.poll() is not None:
                break
            if self.raw_get(self.admin_socket, "/readyz") == 200:
                return
            time.sleep(0.2)
        raise Fatal("skr-agent did not become ready: " + self.agent_log.read_text()[-2000:])

    @staticmethod
    def raw_get(path, target):
        conn = UnixHTTPConnection(path, timeout=5)
        try:
            conn.request("GET", target)
            return conn.getresponse().status
        except OSError:
            return None
        finally:
            conn.close()

    def stop_agent(self):
        stop(self.agent)
        self.agent = None

    def close(self):
        stop(self.agent)
        stop(self.emu)


# ------------------------------------------------------------------------------------------------
# The run

class Driver:
    def __init__(self, world, contracts):
        self.w = world
        self.contracts = contracts  # listener -> Contract
        self.c = contracts["client"]

    def socket(self, listener):
        return {"client": self.w.client_socket, "admin": self.w.admin_socket,
                "compat": self.w.compat_socket}[listener]

    def call(self, listener, method, path, body=None, header=True, headers=None, raw_body=None,
             expect=None, code=None, inner=None, note="", validate_request=False):
        h = {"Host": "skr"}
        if header:
            h["X-SKR-Request"] = "1"
        h.update(headers or {})
        data = raw_body if raw_body is not None else (
            json.dumps(body).encode() if body is not None else None)
        if data is not None:
            h["Content-Type"] = "application/json"
        contract = self.contracts[listener]
        if validate_request and body is not None:
            template = contract.route(path)
            for p in contract.validate(contract.request_schema(template, method), body):
                self.c.mismatches.append(f"request {method} {path}: {p}")
                print(f"  MISMATCH request body of {method} {path}: {p}")
        conn = UnixHTTPConnection(self.socket(listener))
        try:
            conn.request(method, path, body=data, headers=h)
            answer = read_answer(conn.getresponse())
        finally:
            conn.close()
        return contract.check(listener, method, path, answer, expect, code, inner, note)

    def raw(self, listener, method, path, head_lines, wait_before_read=0.0, send_head_end=True,
            expect=None, code=None, note="", version="HTTP/1.1"):
        """A request written by hand (oversized, malformed or incomplete heads)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(self.socket(listener))
        try:
            head = f"{method} {path} {version}\r\nHost: skr\r\nX-SKR-Request: 1\r\n"
            head += "".join(line + "\r\n" for line in head_lines)
            if send_head_end:
                head += "\r\n"
            sock.sendall(head.encode())
            if wait_before_read:
                time.sleep(wait_before_read)
            response = http.client.HTTPResponse(sock, method=method)
            response.begin()
            answer = read_answer(response)
        finally:
            sock.close()
        return self.contracts[listener].check(listener, method, path, answer, expect, code, None,
                                              note)

    def ops_version(self):
        answer = self.call("client", "GET", "/keys/ops-key", expect=200)
        return self.value(answer, "key")["kid"].rsplit("/", 1)[1]

    def value(self, answer, member="value"):
        if answer.status != 200 or not isinstance(answer.json, dict) or member not in answer.json:
            raise Fatal(f"a step the rest depends on failed: {answer.status} "
                        f"{answer.body[:300]!r}")
        return answer.json[member]

    # -- phase A: an agent that is not ready --
    def not_ready(self):
        print("\n== an agent not ready yet (key late-key configured, never released)")
        self.call("client", "GET", "/readyz", header=False, expect=503, code="NotReady")
        self.call("admin", "GET", "/readyz", header=False, expect=503, code="NotReady")
        self.call("client", "GET", "/healthz", header=False, expect=200)
        dek = b64u(secrets.token_bytes(32))
        self.call("client", "GET", "/keys/late-key", expect=503, code="NotReady")
        ops = {"wrapkey": ("RSA-OAEP-256", dek), "unwrapkey": ("RSA-OAEP-256", b64u(bytes(256))),
               "encrypt": ("RSA-OAEP", dek), "decrypt": ("RSA-OAEP", b64u(bytes(256)))}
        for op, (alg, value) in ops.items():
            for path in (f"/keys/data-kek/{op}", f"/keys/data-kek/0123456789abcdef/{op}"):
                self.call("client", "POST", path, {"alg": alg, "value": value}, expect=503,
                          code="NotReady")
        for path, body in (("/keys/data-kek/rewrap", {"kid": "https://v/keys/data-kek/0a",
                                                       "alg": "RSA-OAEP-256", "value": dek}),
                           ("/keys/data-kek/unwrapkey/batch",
                            {"requests": [{"alg": "RSA-OAEP-256", "value": dek}]})):
            self.call("client", "POST", path, body, expect=503, code="NotReady")
        listing = self.call("client", "GET", "/keys", expect=200)
        states = {k["name"]: k["state"] for k in (listing.json or {}).get("value", [])}
        if states.get("late-key") != "unavailable":
            self.c.mismatches.append(f"GET /keys before release: late-key state "
                                     f"{states.get('late-key')!r}, expected 'unavailable'")
        status = self.call("admin", "GET", "/status", expect=200)
        if (status.json or {}).get("ready") is not False:
            self.c.mismatches.append("GET /status before release: ready is not false")
        side = self.call("compat", "GET", "/status", header=False, expect=200)
        if (side.json or {}).get("message") != "Status NOT OK":
            self.c.mismatches.append("sidecar GET /status before release: not 'Status NOT OK'")

    # -- phase B: the full run --
    def full(self):
        c = self.call
        print("\n== probes")
        for listener in ("client", "admin"):
            c(listener, "GET", "/healthz", header=False, expect=200)
            c(listener, "GET", "/readyz", header=False, expect=200)
        c("client", "GET", "/readyz?api-version=7.4", header=False, expect=200)

        print("\n== caller checks")
        c("client", "GET", "/keys", expect=200)
        c("client", "GET", "/keys", headers={"Authorization": "Bearer " + self.w.token},
          expect=200, note="(right bearer token)")
        c("client", "GET", "/keys", header=False, expect=401, code="MissingRequestHeader")
        a = c("client", "GET", "/keys", headers={"Authorization": "Bearer not-the-token"},
              expect=401, code="Unauthorized", note="(wrong bearer token)")
        if a.headers.get("www-authenticate") != "Bearer":
            self.c.mismatches.append("401 Unauthorized without WWW-Authenticate: Bearer")
        c("admin", "GET", "/status", header=False, expect=401, code="MissingRequestHeader")
        c("client", "GET", "/status", expect=403, code="Forbidden", note="(admin route)")
        c("client", "GET", "/metrics", expect=403, code="Forbidden", note="(admin route)")
        c("client", "POST", "/reload", expect=403, code="Forbidden", note="(admin route)")
        c("client", "POST", "/keys/data-kek/rotate", {}, expect=403, code="Forbidden",
          note="(admin route)")
        c("admin", "GET", "/keys", expect=403, code="Forbidden", note="(key route)")
        c("admin", "POST", "/keys/data-kek/wrapkey",
          {"alg": "RSA-OAEP-256", "value": b64u(b"x" * 32)}, expect=403, code="Forbidden",
          note="(key route)")

        print("\n== every route: without X-SKR-Request (401), on the other socket (403)")
        probe = {"alg": "RSA-OAEP-256", "value": b64u(b"x" * 32)}
        routes = [("client", "GET", "/keys", None), ("client", "GET", "/keys/data-kek", None),
                  ("client", "GET", "/keys/data-kek/0a", None),
                  ("client", "POST", "/keys/data-kek/rewrap", probe),
                  ("client", "POST", "/keys/data-kek/unwrapkey/batch", {"requests": [probe]}),
                  ("client", "GET", "/events?timeout=0", None),
                  ("admin", "POST", "/keys/data-kek/rotate", {}),
                  ("admin", "POST", "/keys/data-kek/0a/retire", None),
                  ("admin", "GET", "/status", None), ("admin", "GET", "/metrics", None),
                  ("admin", "POST", "/reload", None),
                  ("client", "POST", "/data/open",
                   {"url": DATA_SOURCE + "x.skr", "key": "data-kek"})]
        for op in ("wrapkey", "unwrapkey", "encrypt", "decrypt"):
            routes.append(("client", "POST", f"/keys/data-kek/{op}", probe))
            routes.append(("client", "POST", f"/keys/data-kek/0a/{op}", probe))
        for listener, method, path, body in routes:
            other = "admin" if listener == "client" else "client"
            c(listener, method, path, body, header=False, expect=401,
              code="MissingRequestHeader")
            c(other, method, path, body, expect=403, code="Forbidden", note="(other socket)")

        print("\n== keys")
        listing = c("client", "GET", "/keys", expect=200)
        names = sorted(k["name"] for k in (listing.json or {}).get("value", []))
        if names != ["blob-key", "data-kek", "late-key", "ops-key"]:
            self.c.mismatches.append(f"GET /keys lists {names}")
        rsa = c("client", "GET", "/keys/data-kek", expect=200)
        kid1 = self.value(rsa, "key")["kid"]
        v1 = kid1.rsplit("/", 1)[1]
        c("client", "GET", "/keys/blob-key", expect=200)
        c("client", "GET", f"/keys/data-kek/{v1}?api-version=7.4", expect=200)
        c("client", "GET", "/keys/no-such-key", expect=404, code="KeyNotFound")
        c("client", "GET", "/keys/data-kek/0123456789abcdef", expect=404, code="VersionNotFound")
        c("client", "GET", "/keys/%ff", expect=400, code="BadRequest")
        c("client", "GET", "/no/such/route", expect=404, code="NotFound")
        c("admin", "GET", "/nothing", expect=404, code="NotFound")

        print("\n== wrap / unwrap (RSA-OAEP-256 on data-kek, A256KW on blob-key)")
        dek = secrets.token_bytes(32)
        wrapped = c("client", "POST", "/keys/data-kek/wrapkey",
                    {"alg": "RSA-OAEP-256", "value": b64u(dek)}, expect=200,
                    validate_request=True)
        w1 = self.value(wrapped)
        if wrapped.json["kid"] != kid1:
            self.c.mismatches.append("wrapkey: kid is not the primary's")
        got = c("client", "POST", "/keys/data-kek/unwrapkey",
                {"alg": "RSA-OAEP-256", "value": w1}, expect=200, validate_request=True)
        if unb64u(self.value(got)) != dek:
            self.c.mismatches.append("unwrapkey: not the wrapped DEK")
        c("client", "POST", f"/keys/data-kek/{v1}/wrapkey",
          {"alg": "RSA-OAEP", "value": b64u(dek)}, expect=200, validate_request=True)
        got = c("client", "POST", f"/keys/data-kek/{v1}/unwrapkey",
                {"alg": "RSA-OAEP-256", "value": w1}, expect=200, validate_request=True)
        if unb64u(self.value(got)) != dek:
            self.c.mismatches.append("versioned unwrapkey: not the wrapped DEK")
        kw = c("client", "POST", "/keys/blob-key/wrapkey", {"alg": "A256KW", "value": b64u(dek)},
               expect=200, validate_request=True)
        got = c("client", "POST", "/keys/blob-key/unwrapkey",
                {"alg": "A256KW", "value": self.value(kw)}, expect=200)
        if unb64u(self.value(got)) != dek:
            self.c.mismatches.append("A256KW unwrapkey: not the wrapped DEK")
        blob_v = self.value(kw, "kid").rsplit("/", 1)[1]

        print("\n== encrypt / decrypt (A256GCM on blob-key, RSA-OAEP on data-kek)")
        plain = b"attack at dawn"
        sealed = c("client", "POST", "/keys/blob-key/encrypt",
                   {"alg": "A256GCM", "value": b64u(plain), "aad": b64u(b"ctx")}, expect=200,
                   validate_request=True)
        s = sealed.json or {}
        body = {"alg": "A256GCM", "value": s.get("value", ""), "iv": s.get("iv", ""),
                "tag": s.get("tag", ""), "aad": b64u(b"ctx")}
        opened = c("client", "POST", "/keys/blob-key/decrypt", body, expect=200,
                   validate_request=True)
        if unb64u(self.value(opened)) != plain:
            self.c.mismatches.append("A256GCM decrypt: not the plaintext")
        sealed2 = c("client", "POST", f"/keys/blob-key/{blob_v}/encrypt",
                    {"alg": "A256GCM", "value": b64u(plain)}, expect=200)
        s2 = sealed2.json or {}
        c("client", "POST", f"/keys/blob-key/{blob_v}/decrypt",
          {"alg": "A256GCM", "value": s2.get("value", ""), "iv": s2.get("iv", ""),
           "tag": s2.get("tag", "")}, expect=200)
        rsa_ct = c("client", "POST", "/keys/data-kek/encrypt",
                   {"alg": "RSA-OAEP", "value": b64u(plain)}, expect=200)
        got = c("client", "POST", f"/keys/data-kek/{v1}/decrypt",
                {"alg": "RSA-OAEP", "value": self.value(rsa_ct)}, expect=200)
        if unb64u(self.value(got)) != plain:
            self.c.mismatches.append("RSA-OAEP decrypt: not the plaintext")

        print("\n== 400 BadParameter, 403 KeyOperationForbidden, 404 on key operations")
        c("client", "POST", "/keys/data-kek/wrapkey", {"alg": "RSA1_5", "value": b64u(dek)},
          expect=400, code="BadParameter", note="(unknown alg)")
        c("client", "POST", "/keys/data-kek/unwrapkey", {"alg": "RSA-OAEP-256", "value": "!!"},
          expect=400, code="BadParameter", note="(not base64url)")
        c("client", "POST", "/keys/data-kek/unwrapkey", raw_body=b'{"alg":', expect=400,
          code="BadParameter", note="(not JSON)")
        c("client", "POST", "/keys/blob-key/encrypt",
          {"alg": "A256GCM", "value": b64u(plain), "iv": b64u(b"0" * 12)}, expect=400,
          code="BadParameter", note="(iv sent to encrypt)")
        bad_tag = dict(body, tag=b64u(bytes(16)))
        c("client", "POST", "/keys/blob-key/decrypt", bad_tag, expect=400, code="BadParameter",
          note="(tag does not verify)")
        c("client", "POST", "/keys/blob-key/wrapkey", {"alg": "RSA-OAEP", "value": b64u(dek)},
          expect=400, code="BadParameter", note="(RSA alg on an oct key)")
        c("client", "POST", "/keys/ops-key/encrypt", {"alg": "A256GCM", "value": b64u(plain)},
          expect=403, code="Forbidden", inner="KeyOperationForbidden",
          note="(key_ops: wrapKey, unwrapKey)")
        c("client", "POST", "/keys/no-such-key/unwrapkey", {"alg": "A256KW", "value": w1},
          expect=404, code="KeyNotFound")
        c("client", "POST", "/keys/data-kek/0123456789abcdef/unwrapkey",
          {"alg": "RSA-OAEP-256", "value": w1}, expect=404, code="VersionNotFound")
        for op in ("wrapkey", "unwrapkey", "encrypt", "decrypt"):
            body = {"alg": "RSA-OAEP-256" if "wrap" in op else "RSA-OAEP", "value": w1}
            c("client", "POST", f"/keys/no-such-key/{op}", body, expect=404, code="KeyNotFound")
            c("client", "POST", f"/keys/data-kek/0123456789abcdef/{op}", body, expect=404,
              code="VersionNotFound")
            c("client", "POST", f"/keys/data-kek/{v1}/{op}", dict(body, alg="A999"), expect=400,
              code="BadParameter", note="(unknown alg)")
            c("client", "POST", f"/keys/ops-key/{blob_v}/{op}", body, expect=404,
              code="VersionNotFound", note="(a version of another key)")
        c("client", "POST", f"/keys/ops-key/{self.ops_version()}/decrypt",
          {"alg": "A256GCM", "value": b64u(b"x"), "iv": b64u(bytes(12)), "tag": b64u(bytes(16))},
          expect=403, code="Forbidden", inner="KeyOperationForbidden")
        c("client", "GET", "/keys/data-kek/%ff", expect=400, code="BadRequest")

        print("\n== 405 with Allow")
        c("client", "GET", "/keys/data-kek/wrapkey", expect=405, code="MethodNotAllowed")
        c("client", "DELETE", "/keys", expect=405, code="MethodNotAllowed")
        c("client", "POST", "/healthz", {}, header=False, expect=405, code="MethodNotAllowed")
        c("admin", "GET", "/reload", expect=405, code="MethodNotAllowed")

        print("\n== HTTP-layer refusals: 413, 431, 408")
        self.raw("client", "POST", "/keys/data-kek/unwrapkey",
                 ["Content-Type: application/json", "Content-Length: 2000000"], expect=413,
                 code="PayloadTooLarge", note="(Content-Length over max_body_bytes)")
        self.raw("client", "GET", "/keys", ["X-Padding: " + "a" * 20000], expect=431,
                 code="HeaderTooLarge")
        self.raw("client", "GET", "/keys", [], send_head_end=False, expect=408,
                 code="RequestTimeout", note="(head not finished within header_timeout)")
        self.raw("client", "GET", "/healthz", ["no colon here"], expect=400, code="BadRequest",
                 note="(malformed header field)")
        self.raw("client", "GET", "/healthz", [], version="HTTP/2.0", expect=505,
                 code="HttpVersionNotSupported", note="(documented as default)")
        self.raw("client", "POST", "/keys/data-kek/unwrapkey", ["Transfer-Encoding: chunked"],
                 expect=501, code="NotImplemented", note="(documented as default)")
        self.raw("admin", "GET", "/status", ["Expect: something"], expect=417,
                 code="ExpectationFailed", note="(documented as default)")

        print("\n== unwrapkey/batch")
        batch = c("client", "POST", "/keys/data-kek/unwrapkey/batch",
                  {"requests": [{"alg": "RSA-OAEP-256", "value": w1, "kid": kid1},
                                {"alg": "RSA-OAEP-256", "value": w1},
                                {"alg": "RSA-OAEP-256", "value": "AAAA"}]},
                  expect=200, validate_request=True)
        results = (batch.json or {}).get("results", [])
        if len(results) != 3 or "error" not in results[2] or "value" not in results[0]:
            self.c.mismatches.append(f"batch: results are not [ok, ok, error]: "
                                     f"{[sorted(r) for r in results]}")
        c("client", "POST", "/keys/data-kek/unwrapkey/batch", {"requests": []}, expect=400,
          code="BadParameter", note="(no items)")

        print("\n== data/open (opening real blobs is tested against Azurite)")
        c("client", "POST", "/data/open", {"url": "http://127.0.0.1:9/devstoreaccount1/enc/x",
                                           "key": "data-kek"},
          expect=400, code="BadParameter", note="(not https)")
        c("client", "POST", "/data/open", {"url": DATA_SOURCE + "x", "key": "data-kek",
                                           "extra": 1},
          expect=400, code="BadParameter", note="(unknown member)")
        c("client", "POST", "/data/open", {"url": "https://elsewhere.example/c/x.skr",
                                           "key": "data-kek"},
          expect=403, code="DataSourceNotAllowed", validate_request=True)
        c("client", "POST", "/data/open", {"url": DATA_SOURCE + "x.skr", "key": "no-such-key"},
          expect=404, code="KeyNotFound")
        # Storage unreachable: 503 StorageUnavailable once retries are spent.
        opened = c("client", "POST", "/data/open", {"url": DATA_SOURCE + "x.skr",
                                                    "key": "data-kek", "auth": "anonymous"},
                   validate_request=True, note="(nothing listens at the source)")
        if (opened.status, opened.code()) != (503, "StorageUnavailable"):
            self.c.mismatches.append("POST /data/open to an unreachable blob: expected 503 "
                                     f"StorageUnavailable, got {opened.status} {opened.code()}")

        print("\n== events")
        first = c("client", "GET", "/events?after=0&timeout=0", expect=200)
        cursor = self.value(first, "next")
        c("client", "GET", "/events?after=abc", expect=400, code="BadParameter")
        # Two polls that would both wait, at once: with workers: 2 one may wait (200 after the
        # timeout), the other is 429 Throttled, whichever comes second.
        answers = []

        def poll():
            answers.append(self.call("client", "GET", f"/events?after={cursor}&timeout=3",
                                     note="(one of two waiting polls)"))
        polls = [threading.Thread(target=poll) for _ in range(2)]
        for t in polls:
            t.start()
            time.sleep(0.2)
        for t in polls:
            t.join()
        if sorted(a.status for a in answers) != [200, 429] or \
                [a.code() for a in answers if a.status == 429] != ["Throttled"]:
            self.c.mismatches.append("two waiting /events polls: expected 200 and 429 Throttled, "
                                     f"got {sorted((a.status, a.code()) for a in answers)}")

        print("\n== rotation (a new version of data-kek in Key Vault), rewrap, retire")
        self.w.create_key("vault", "data-kek", {"kty": "RSA-HSM", "key_size": 2048})
        rotated = c("admin", "POST", "/keys/data-kek/rotate", {}, expect=200)
        kid2 = self.value(rotated, "kid")
        v2 = kid2.rsplit("/", 1)[1]
        if kid2 == kid1:
            self.c.mismatches.append("rotate: the kid did not change")
        c("admin", "POST", "/keys/data-kek/rotate", raw_body=b"{", expect=400,
          code="BadParameter", note="(not JSON)")
        c("admin", "POST", "/keys/no-such-key/rotate", {}, expect=404, code="KeyNotFound")
        # (The agent says KeyNotFound here, not VersionNotFound; the document allows both.)
        c("admin", "POST", "/keys/data-kek/rotate", {"version": "0123456789abcdef"}, expect=404,
          note="(a version Key Vault does not have)")
        c("admin", "POST", "/keys/data-kek/rotate", {"version": v2}, expect=200,
          note="(the primary already: nothing changes)")
        ev = c("client", "GET", f"/events?after={cursor}&timeout=5", expect=200)
        types = [e.get("type") for e in (ev.json or {}).get("events", [])]
        if "rotated" not in types:
            self.c.mismatches.append(f"events after rotation: {types}, no 'rotated'")
        re_ = c("client", "POST", "/keys/data-kek/rewrap",
                {"kid": kid1, "alg": "RSA-OAEP-256", "value": w1}, expect=200,
                validate_request=True)
        if self.value(re_, "kid") != kid2:
            self.c.mismatches.append("rewrap: kid is not the new primary")
        got = c("client", "POST", "/keys/data-kek/unwrapkey",
                {"alg": "RSA-OAEP-256", "value": self.value(re_)}, expect=200)
        if unb64u(self.value(got)) != dek:
            self.c.mismatches.append("rewrap: the new primary does not unwrap the same DEK")
        c("client", "POST", "/keys/data-kek/rewrap",
          {"kid": kid1.replace("/keys/data-kek/", "/keys/blob-key/"), "alg": "RSA-OAEP-256",
           "value": w1}, expect=400, code="BadParameter", note="(kid of another key)")
        c("client", "POST", "/keys/data-kek/rewrap",
          {"kid": kid1.rsplit("/", 1)[0] + "/0123456789abcdef", "alg": "RSA-OAEP-256",
           "value": w1}, expect=404, code="VersionNotFound")

        print("\n== admin: status, metrics, reload, retire")
        st = c("admin", "GET", "/status", expect=200)
        if (st.json or {}).get("ready") is not True:
            self.c.mismatches.append("GET /status: ready is not true")
        c("admin", "GET", "/metrics", expect=200)
        c("admin", "POST", "/reload", expect=200)
        c("admin", "POST", f"/keys/data-kek/{v2}/retire", expect=409, code="Conflict",
          note="(the primary)")
        c("admin", "POST", "/keys/data-kek/0123456789abcdef/retire", expect=404,
          code="VersionNotFound")
        c("admin", "POST", "/keys/no-such-key/0123456789abcdef/retire", expect=404,
          code="KeyNotFound")
        c("admin", "POST", f"/keys/data-kek/{v1}/retire", expect=200)
        c("client", "GET", f"/keys/data-kek/{v1}", expect=404, code="VersionNotFound",
          note="(retired)")
        c("client", "POST", f"/keys/data-kek/{v1}/unwrapkey",
          {"alg": "RSA-OAEP-256", "value": w1}, expect=404, code="VersionNotFound",
          note="(retired)")

        print("\n== reload refused: state directory writable by others (403), replaced (503)")
        state = self.w.work / "state"
        mode = state.stat().st_mode & 0o7777
        state.chmod(mode | 0o002)
        try:
            c("admin", "POST", "/reload", expect=403, code="Forbidden",
              inner="KeyOperationForbidden", note="(the inner code of every permission error)")
        finally:
            state.chmod(mode)
        moved = self.w.work / "state-moved"
        state.rename(moved)
        state.mkdir(mode=mode)
        try:
            c("admin", "POST", "/reload", expect=503, code="NotReady",
              note="(removed and created again)")
        finally:
            state.rmdir()
            moved.rename(state)
        c("admin", "POST", "/reload", expect=200, note="(the same directory again)")
        c("client", "POST", "/keys/data-kek/unwrapkey",
          {"alg": "RSA-OAEP-256", "value": self.value(re_)}, expect=200,
          note="(still serving)")


    # -- the sidecar-compat listener (docs/agent-sidecar-api.yaml) --
    def sidecar(self):
        c = self.call
        env = self.w.env
        maa, vault = env["SKR_EMULATOR_MAA_URL"], env["SKR_EMULATOR_VAULT_URL"]
        runtime = base64.b64encode(json.dumps({"nonce": secrets.token_hex(8)}).encode()).decode()
        print("\n== the Azure SKR sidecar compatibility listener")
        side = c("compat", "GET", "/status", header=False, expect=200)
        if (side.json or {}).get("message") != "Status OK":
            self.c.mismatches.append("sidecar GET /status when ready: not 'Status OK'")
        c("compat", "POST", "/attest/raw", {"runtime_data": runtime}, expect=200,
          validate_request=True)
        c("compat", "POST", "/attest/combined", {"runtime_data": runtime}, expect=200,
          validate_request=True)
        c("compat", "POST", "/attest/maa", {"maa_endpoint": maa, "runtime_data": runtime},
          expect=200, validate_request=True)
        released = c("compat", "POST", "/key/release",
                     {"maa_endpoint": maa, "akv_endpoint": vault, "kid": "data-kek"},
                     expect=200, validate_request=True)
        try:
            jwk = json.loads((released.json or {}).get("key", ""))
            if jwk.get("kty") != "RSA" or "d" not in jwk:  # checked, never printed
                self.c.mismatches.append("sidecar /key/release: not a private RSA JWK")
        except ValueError:
            self.c.mismatches.append("sidecar /key/release: 'key' is not JSON text")
        c("compat", "POST", "/attest/raw", {}, expect=400, note="(runtime_data missing)")
        c("compat", "POST", "/attest/raw", {"runtime_data": runtime}, header=False, expect=401,
          note="(no X-SKR-Request)")
        c("compat", "POST", "/attest/maa",
          {"maa_endpoint": "https://attacker.example", "runtime_data": runtime}, expect=403,
          note="(another MAA)")
        c("compat", "POST", "/key/release",
          {"maa_endpoint": maa, "akv_endpoint": vault, "kid": "blob-key"}, expect=403,
          note="(release not granted on blob-key)")
        for path, body in (("/attest/combined", {"runtime_data": runtime}),
                           ("/attest/maa", {"maa_endpoint": maa, "runtime_data": runtime}),
                           ("/key/release",
                            {"maa_endpoint": maa, "akv_endpoint": vault, "kid": "data-kek"})):
            c("compat", "POST", path, body, header=False, expect=401, note="(no X-SKR-Request)")
            missing = {k: v for k, v in body.items() if k not in ("runtime_data", "kid")}
            c("compat", "POST", path, missing, expect=400, note="(a required member missing)")
        a = c("compat", "POST", "/attest/raw", {"runtime_data": runtime},
              headers={"Authorization": "Bearer not-the-token"}, expect=401,
              note="(wrong bearer token)")
        if a.headers.get("www-authenticate") != "Bearer":
            self.c.mismatches.append("sidecar 401 for a wrong token without WWW-Authenticate")
        c("compat", "POST", "/key/release",
          {"maa_endpoint": maa, "akv_endpoint": "https://other.vault.example", "kid": "data-kek"},
          expect=403, note="(not the key's vault)")
        c("compat", "POST", "/key/release",
          {"maa_endpoint": maa, "akv_endpoint": vault, "kid": "data-kek/0123456789abcdef"},
          expect=403, note="(unknown version)")
        c("compat", "GET", "/attest/raw", expect=405)
        c("compat", "GET", "/keys", expect=404, note="(an skr route, not the sidecar's)")
        self.raw("compat", "POST", "/key/release", ["Content-Length: 2000000"], expect=413,
                 code="PayloadTooLarge", note="(HTTP layer: AKV-shaped)")


    # -- last: Key Vault unreachable --
    def dependency_down(self):
        print("\n== Key Vault unreachable (the emulator stopped): rotation is 503")
        stop(self.w.emu)
        self.w.emu = None
        self.call("admin", "POST", "/keys/blob-key/rotate", {}, expect=503, code="NotReady")
        self.call("client", "POST", "/keys/data-kek/unwrapkey",
                  {"alg": "RSA-OAEP-256", "value": b64u(bytes(256))}, expect=400,
                  code="BadParameter", note="(still serving: the zero block does not decrypt)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", required=True, help="the build directory under test")
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parents[2]))
    parser.add_argument("--doc", help="the document (default: REPO/docs/agent-api.yaml)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    started = time.monotonic()
    doc_path = Path(args.doc) if args.doc else Path(args.repo) / "docs" / "agent-api.yaml"
    doc = yaml.safe_load(doc_path.read_text())
    sidecar_path = doc_path.parent / "agent-sidecar-api.yaml"
    sidecar_doc = yaml.safe_load(sidecar_path.read_text())
    # The documents' own schemas are valid JSON Schema 2020-12 (else every check below is moot).
    for path, d in ((doc_path, doc), (sidecar_path, sidecar_doc)):
        if not str(d.get("openapi", "")).startswith("3.1"):
            print(f"agent_api_test: {path.name} is not OpenAPI 3.1", file=sys.stderr)
            return 1
        for name, schema in d["components"]["schemas"].items():
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as e:
                print(f"agent_api_test: {path.name}: components.schemas.{name} is not valid JSON "
                      f"Schema: {e.message}", file=sys.stderr)
                return 1
    # The documents as OpenAPI 3.1, where the (pip) openapi-spec-validator is installed; the
    # checks below need only python3-yaml and python3-jsonschema.
    try:
        from openapi_spec_validator import validate as validate_openapi
    except ImportError:
        validate_openapi = None
        print("structure: openapi-spec-validator is not installed: the documents' OpenAPI "
              "structure is not checked (their schemas are, below)")
    if validate_openapi is not None:
        for path, d in ((doc_path, doc), (sidecar_path, sidecar_doc)):
            try:
                validate_openapi(d)
            except Exception as e:  # noqa: BLE001 - the validator's own exception types vary
                print(f"agent_api_test: {path.name} is not valid OpenAPI 3.1: {str(e)[:800]}",
                      file=sys.stderr)
                return 1
        print(f"structure: {doc_path.name} and {sidecar_path.name} are valid OpenAPI 3.1 "
              "(openapi-spec-validator)")
    mismatches = []
    contract = Contract(doc_path.name, doc, mismatches)
    sidecar = Contract(sidecar_path.name, sidecar_doc, mismatches)
    work = Path(tempfile.mkdtemp(prefix="skr-agent-api-"))
    world = None
    try:
        world = World(args.build, work)
        driver = Driver(world, {"client": contract, "admin": contract, "compat": sidecar})
        world.start_emulator()
        world.prepare()
        world.create_key("vault", "data-kek", {"kty": "RSA-HSM", "key_size": 2048})
        world.create_key("mhsm", "blob-key", {"kty": "oct-HSM", "key_size": 256})
        world.create_key("mhsm", "ops-key", {"kty": "oct-HSM", "key_size": 256,
                                             "key_ops": ["wrapKey", "unwrapKey"]})
        world.create_key("vault", "late-key", {"kty": "RSA-HSM", "key_size": 2048})
        released = [("data-kek", "vault"), ("blob-key", "mhsm"), ("ops-key", "mhsm")]
        every = released + [("late-key", "vault")]
        world.run_init(world.config(released, "if-missing"))
        world.run_dir.mkdir(mode=0o750)
        # Phase A: late-key has no bundle and the agent may not release it: not ready.
        world.start_agent(world.config(every, "never"), "not-ready")
        driver.not_ready()
        world.stop_agent()
        # Phase B: the same keys; the agent releases late-key itself and becomes ready.
        world.start_agent(world.config(every, "if-missing"), "ready")
        world.wait_ready()
        driver.full()
        driver.sidecar()
        driver.dependency_down()
    except Fatal as e:
        contract.mismatches.append(f"FATAL: {e}")
        print(f"\nagent_api_test: FATAL: {e}", file=sys.stderr)
    finally:
        if world is not None:
            world.close()
        if args.keep:
            print(f"agent_api_test: work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    never = contract.coverage() + sidecar.coverage()
    for route in never:
        contract.mismatches.append(f"documented route never called: {route}")
    elapsed = time.monotonic() - started
    if contract.mismatches:
        print(f"\nagent_api_test: FAIL: {len(contract.mismatches)} mismatch(es) "
              f"({elapsed:.1f} s):", file=sys.stderr)
        for m in contract.mismatches:
            print(f"  {m}", file=sys.stderr)
        return 1
    routes = sum(1 for d in (doc, sidecar_doc) for p in d["paths"].values()
                 for m in p if m in contract.methods)
    print(f"\nagent_api_test: PASS: all {routes} documented routes called, every answer matched "
          f"{doc_path.name} / {sidecar_path.name} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
