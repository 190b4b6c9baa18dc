#!/usr/bin/env python3
"""Checks the files users deploy skr with: arm-templates/*.json, manifests/aci/skr-group.yaml and
manifests/kubernetes/*.yaml.

  schema       every ARM resource (and the ACI YAML) validates against JSON Schema derived from the
               Azure swagger of the api-version it declares (tests/deploy/swagger/); the validator
               itself must reject a misspelled property and a wrong enum value
  references   every parameters()/variables() is declared, every parameter is used, parameters
               files name only declared parameters, volumes agree with volumeMounts, no secrets
  consistency  uids/gids, images, volumes and mount paths, socket path and the skr configuration
               are the same in the Kubernetes manifests, the ACI YAML, the ARM group and the
               NGroups profile, and fit together (the app's uid is a client, ...)
  hostdata     skrctl hostdata of the parameters file's ccePolicy is the key template's hostdata;
               the key template's release policy is what skrctl release-policy prints; the
               emulator releases a key under that policy to a chip with that hostdata (skr-init
               exits 0) and refuses it for another hostdata (exit 6)

Usage: check_templates.py --skrctl PATH --emulator PATH --init PATH [--repo DIR]
Prints one line per check and a summary; exit 0 when every check passed, 1 otherwise.
"""

import argparse
import base64
import binascii
import copy
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import jsonschema
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from emulator_http import http_json, read_env_file  # noqa: E402

HERE = Path(__file__).resolve().parent
SWAGGER_DIR = HERE / "swagger"

GROUP_TEMPLATE = "arm-templates/skr-container-group.json"
GROUP_PARAMS = "arm-templates/skr-container-group.parameters.json"
KEY_TEMPLATE = "arm-templates/skr-key.json"
KEY_PARAMS = "arm-templates/skr-key.parameters.json"
NGROUPS_TEMPLATE = "arm-templates/skr-ngroups.json"
NGROUPS_PARAMS = "arm-templates/skr-ngroups.parameters.json"
ACI_YAML = "manifests/aci/skr-group.yaml"
K8S_DIR = "manifests/kubernetes"
TEMPLATES = [(GROUP_TEMPLATE, GROUP_PARAMS), (KEY_TEMPLATE, KEY_PARAMS),
             (NGROUPS_TEMPLATE, NGROUPS_PARAMS)]

RELEASE_USER_ROLE_ID = "08bbd89e-9f13-488c-ac41-acfcb10c90ab"  # Key Vault Crypto Service Release User


class Failed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failed(message)


# ------------------------------------------------------------------------------------------------
# swagger -> JSON Schema


class SwaggerSchemas:
    """Loads every swagger file under SWAGGER_DIR and converts definitions to JSON Schema (draft 7).

    $refs (local or to sibling files) become refs into one shared 'definitions' map; refs into files
    that are not stored here become {} (any value). x-ms-* keys and formats are dropped; type, enum,
    required, items, min/max constraints are kept; an object that lists properties gets
    additionalProperties: false (unless the swagger gives additionalProperties), with the properties
    of its allOf parents merged in, so a misspelled property fails. readOnly properties must not be
    sent. A $ref to a string definition (an enum) keeps its enum.
    """

    def __init__(self, root):
        self.files = {}
        for path in sorted(root.rglob("*.json")):
            self.files[path.resolve()] = json.loads(path.read_text())
        self.definitions = {}
        self.converting = set()

    def versions(self):
        return {doc["info"]["version"] for doc in self.files.values()}

    def _resolve_ref(self, base, ref):
        file_part, _, pointer = ref.partition("#")
        path = (base.parent / file_part).resolve() if file_part else base
        if path not in self.files:
            return None, None, None
        node = self.files[path]
        for part in pointer.strip("/").split("/"):
            node = node[part]
        return path, pointer, node

    def _def_key(self, path, pointer):
        return f"{path.parent.name}/{path.name}{pointer}".replace("/", ".").replace("#", "")

    def _ref(self, base, ref):
        path, pointer, node = self._resolve_ref(base, ref)
        if path is None:
            return {}  # common-types etc.: not stored, any value
        key = self._def_key(path, pointer)
        if key not in self.definitions and key not in self.converting:
            self.converting.add(key)
            self.definitions[key] = self.convert(path, node)
            self.converting.discard(key)
        return {"$ref": "#/definitions/" + key}

    def _collect_object(self, base, node, props, required, open_state):
        """Merges properties/required of node and its allOf parents (resolved) into props."""
        for parent in node.get("allOf", []):
            if "$ref" in parent:
                path, _, target = self._resolve_ref(base, parent["$ref"])
                if path is None:
                    open_state[0] = True  # unknown parent: cannot close the object
                    continue
                self._collect_object(path, target, props, required, open_state)
            else:
                self._collect_object(base, parent, props, required, open_state)
        for name, sub in node.get("properties", {}).items():
            if sub.get("readOnly"):
                props[name] = False  # read-only: the service sets it; a request must not
            else:
                props[name] = self.convert(base, sub)
        required.extend(r for r in node.get("required", []) if r not in required)
        if "additionalProperties" in node:
            open_state[1] = node["additionalProperties"]

    def convert(self, base, node):
        if not isinstance(node, dict):
            return {}
        if "$ref" in node:
            return self._ref(base, node["$ref"])
        out = {}
        if "enum" in node:
            out["enum"] = list(node["enum"])
        for key in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
                    "pattern"):
            if key in node:
                out[key] = node[key]
        kind = node.get("type")
        if kind == "file":
            kind = None
        if kind:
            out["type"] = kind
        if kind == "array" or "items" in node:
            out["items"] = self.convert(base, node.get("items", {}))
        if "properties" in node or "allOf" in node:
            props, required, open_state = {}, [], [False, None]
            self._collect_object(base, node, props, required, open_state)
            if props:
                out["properties"] = props
            if required:
                out["required"] = required
            extra = open_state[1]
            if isinstance(extra, dict):
                out["additionalProperties"] = self.convert(base, extra)
            elif extra is True or open_state[0] or not props:
                pass
            else:
                out["additionalProperties"] = False
            out.setdefault("type", "object")
        elif "additionalProperties" in node and isinstance(node["additionalProperties"], dict):
            out["additionalProperties"] = self.convert(base, node["additionalProperties"])
        return out

    def body_schema(self, resource_type, api_version):
        """JSON Schema of the PUT body for resource_type (e.g. Microsoft.KeyVault/vaults/keys) in
        the swagger file whose info.version is api_version; None when no file describes it."""
        want = resource_type.lower()
        for path, doc in self.files.items():
            if doc["info"]["version"] != api_version:
                continue
            for url, ops in doc.get("paths", {}).items():
                if "put" not in ops or "/providers/" not in url:
                    continue
                segments = url.split("/providers/")[-1].split("/")
                namespace, rest = segments[0], segments[1:]
                types = [rest[i] for i in range(0, len(rest), 2)]
                if f"{namespace}/{'/'.join(types)}".lower() != want:
                    continue
                for param in ops["put"].get("parameters", []):
                    if "$ref" in param:
                        _, _, param = self._resolve_ref(path, param["$ref"])
                        if param is None:
                            continue
                    if param.get("in") == "body":
                        root = self.convert(path, param["schema"])
                        return {"$schema": "http://json-schema.org/draft-07/schema#",
                                "definitions": self.definitions, **root}
        return None


def validation_errors(schemas, resource_type, api_version, body):
    schema = schemas.body_schema(resource_type, api_version)
    if schema is None:
        return [f"no swagger for {resource_type} at api-version {api_version} "
                f"(stored: {sorted(schemas.versions())})"]
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:300]}"
            for e in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))]


# ------------------------------------------------------------------------------------------------
# ARM template expressions (the subset the templates use), evaluated with a parameters file


class ArmExpression:
    TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<name>[A-Za-z_][\w]*)|"
                       r"(?P<punct>[(),.\[\]]))")

    def __init__(self, text, context):
        self.tokens = []
        pos = 0
        while pos < len(text):
            m = self.TOKEN.match(text, pos)
            if not m or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise Failed(f"ARM expression: cannot parse at {text[pos:pos + 20]!r} in {text!r}")
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.pos = 0
        self.context = context
        self.text = text

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise Failed(f"ARM expression: expected {value!r} in {self.text!r}")
        self.pos += 1
        return tok

    def parse(self):
        value = self.expr()
        if self.pos != len(self.tokens):
            raise Failed(f"ARM expression: trailing tokens in {self.text!r}")
        return value

    def expr(self):
        kind, tok = self.take()
        if kind == "str":
            value = tok[1:-1].replace("''", "'")
        elif kind == "num":
            value = int(tok)
        elif kind == "name":
            self.take("(")
            args = []
            if self.peek()[1] != ")":
                args.append(self.expr())
                while self.peek()[1] == ",":
                    self.take(",")
                    args.append(self.expr())
            self.take(")")
            value = self.context.call(tok, args)
        else:
            raise Failed(f"ARM expression: unexpected {tok!r} in {self.text!r}")
        while self.peek()[1] == ".":
            self.take(".")
            _, member = self.take()
            value = value[member]
        return value


class ArmContext:
    """Evaluates a template with parameter values; records which parameters/variables were read."""

    def __init__(self, template, values):
        self.template = template
        self.values = values
        self.variables = {}
        self.used_parameters = set()

    def call(self, name, args):
        fn = name.lower()
        if fn == "parameters":
            self.used_parameters.add(args[0])
            if args[0] not in self.values:
                raise Failed(f"parameters('{args[0]}') has no value")
            return self.values[args[0]]
        if fn == "variables":
            if args[0] not in self.variables:
                declared = self.template.get("variables", {})
                if args[0] not in declared:
                    raise Failed(f"variables('{args[0]}') is not declared")
                self.variables[args[0]] = self.evaluate(declared[args[0]])
            return self.variables[args[0]]
        simple = {
            "tolower": lambda s: s.lower(),
            "replace": lambda s, a, b: s.replace(a, b),
            "base64": lambda s: base64.b64encode(s.encode()).decode(),
            "string": lambda v: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")),
            "format": lambda f, *a: re.sub(r"\{(\d+)\}", lambda m: str(a[int(m.group(1))]), f),
            "concat": lambda *a: "".join(str(x) for x in a),
            "equals": lambda a, b: a == b,
            "and": lambda *a: all(a),
            "not": lambda a: not a,
            "empty": lambda a: len(a) == 0,
            "resourcegroup": lambda: {"location": "eastus2", "name": "skr-rg",
                                      "id": "/subscriptions/00000000-0000-0000-0000-000000000000"
                                            "/resourceGroups/skr-rg"},
            "resourceid": lambda t, *n: ("/subscriptions/00000000-0000-0000-0000-000000000000"
                                         "/resourceGroups/skr-rg/providers/" + t + "/" +
                                         "/".join(n)),
            "subscriptionresourceid": lambda t, *n: ("/subscriptions/00000000-0000-0000-0000-"
                                                     "000000000000/providers/" + t + "/" +
                                                     "/".join(n)),
            "guid": lambda *a: "guid(" + ",".join(a) + ")",
        }
        if fn not in simple:
            raise Failed(f"ARM function {name}() is not known to this test; add it to ArmContext")
        return simple[fn](*args)

    def evaluate(self, node):
        if isinstance(node, str):
            if node.startswith("[[") or not (node.startswith("[") and node.endswith("]")):
                return node
            return ArmExpression(node[1:-1], self).parse()
        if isinstance(node, list):
            return [self.evaluate(x) for x in node]
        if isinstance(node, dict):
            return {self.evaluate(k): self.evaluate(v) for k, v in node.items()}
        return node


def load_json(repo, rel):
    path = repo / rel
    check(path.is_file(), f"{rel}: missing")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise Failed(f"{rel}: not JSON: {e}")


def parameter_values(repo, template_rel, params_rel, overrides=None):
    """Values of every template parameter: the parameters file, else the default (evaluated)."""
    template = load_json(repo, template_rel)
    given = {k: v["value"] for k, v in load_json(repo, params_rel)["parameters"].items()}
    given.update(overrides or {})
    values = {}
    ctx = ArmContext(template, values)
    for name, decl in template.get("parameters", {}).items():
        if name in given:
            values[name] = given[name]
        elif "defaultValue" in decl:
            values[name] = ctx.evaluate(decl["defaultValue"])
        else:
            raise Failed(f"{params_rel}: gives no value for '{name}', which has no default")
    return values


def evaluated_template(repo, template_rel, params_rel, overrides=None):
    template = load_json(repo, template_rel)
    ctx = ArmContext(template, parameter_values(repo, template_rel, params_rel, overrides))
    return ctx.evaluate(template["resources"]), ctx


# ------------------------------------------------------------------------------------------------
# checks: schema


def arm_resources_for_validation(repo):
    """(label, type, apiVersion, body) for every resource of every template, expressions
    evaluated with the template's parameters file, plus the ACI YAML."""
    out = []
    for template_rel, params_rel in TEMPLATES:
        template = load_json(repo, template_rel)
        resources, _ = evaluated_template(repo, template_rel, params_rel)
        for raw, res in zip(template["resources"], resources):
            body = {k: v for k, v in res.items()
                    if k in ("properties", "identity", "location", "tags", "zones", "sku")}
            out.append((f"{template_rel} {raw['type']}", raw["type"], raw["apiVersion"], body))
    aci = yaml.safe_load((repo / ACI_YAML).read_text())
    body = {k: v for k, v in aci.items() if k in ("properties", "identity", "location", "tags")}
    out.append((ACI_YAML, aci["type"], str(aci["apiVersion"]), body))
    return out


def check_schema(repo, schemas, report):
    resources = arm_resources_for_validation(repo)
    for label, rtype, version, body in resources:
        errors = validation_errors(schemas, rtype, version, body)
        check(not errors, f"{label} @{version}: " + "; ".join(errors[:5]))
    counted = sum(1 for _ in resources)
    kinds = sorted({t.split("/")[-1] + "@" + v for _, t, v, _ in resources})
    report.append(f"{counted} resources validated against swagger ({', '.join(kinds)})")

    # The validator must fail on what it is for: a typo, a wrong enum, a wrong type, a missing
    # required property, a read-only property.
    label, rtype, version, body = next(r for r in resources if r[1].endswith("containerGroups"))
    mutations = {
        "misspelled property volumeMount": lambda b: b["properties"]["containers"][0]["properties"]
        .__setitem__("volumeMount", b["properties"]["containers"][0]["properties"]
                     .pop("volumeMounts")),
        "sku Confidental": lambda b: b["properties"].__setitem__("sku", "Confidental"),
        "runAsUser as a string": lambda b: b["properties"]["initContainers"][0]["properties"]
        ["securityContext"].__setitem__("runAsUser", "10001"),
        "volume without name": lambda b: b["properties"]["volumes"][0].pop("name"),
        "misspelled securityContext key": lambda b: b["properties"]["containers"][1]["properties"]
        ["securityContext"].__setitem__("allowPrivilegeEscalations", False),
        "read-only provisioningState": lambda b: b["properties"].__setitem__(
            "provisioningState", "Succeeded"),
    }
    for name, mutate in mutations.items():
        broken = copy.deepcopy(body)
        mutate(broken)
        check(validation_errors(schemas, rtype, version, broken),
              f"validator accepted a broken group ({name})")
    key = next(r for r in resources if r[1] == "Microsoft.KeyVault/vaults/keys")
    broken = copy.deepcopy(key[3])
    broken["properties"]["releasePolicy"] = broken["properties"].pop("release_policy")
    check(validation_errors(schemas, key[1], key[2], broken),
          "validator accepted releasePolicy (Key Vault RM spells it release_policy)")
    broken = copy.deepcopy(key[3])
    broken["properties"]["kty"] = "oct-HSM"
    check(validation_errors(schemas, key[1], key[2], broken),
          "validator accepted kty oct-HSM (not in the RM enum)")
    report.append(f"validator rejects {len(mutations) + 2} broken variants "
                  "(typo, enum, type, required, read-only, release_policy spelling, kty enum)")


# ------------------------------------------------------------------------------------------------
# checks: references, volumes, secrets


REF = re.compile(r"\b(parameters|variables)\(\s*'([^']*)'\s*\)", re.IGNORECASE)


def walk_strings(node, path=""):
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, list):
        for i, x in enumerate(node):
            yield from walk_strings(x, f"{path}[{i}]")
    elif isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}.{k}(key)", k
            yield from walk_strings(v, f"{path}.{k}")


def container_groups(node):
    """Every object with containers (group properties or a profile's), recursively."""
    if isinstance(node, dict):
        if "containers" in node and "volumes" in node:
            yield node
        for v in node.values():
            yield from container_groups(v)
    elif isinstance(node, list):
        for v in node:
            yield from container_groups(v)


SECRET_PATTERNS = [
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\."), "a JWT"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a PEM private key"),
    (re.compile(r"AccountKey=|SharedAccessSignature=|[?&]sig=", re.IGNORECASE), "a storage key/SAS"),
    (re.compile(r'"(d|p|q|dp|dq|qi|k)"\s*:\s*"[A-Za-z0-9_-]{16,}"'), "private JWK members"),
    (re.compile(r"^[A-Za-z0-9+/_-]{40,}={0,2}$"), "a long base64 blob (key material?)"),
]
SECRET_KEYS = {"securevalue", "password", "storageaccountkey", "clientsecret", "token"}


def check_secrets(rel, doc, counts):
    for path, value in walk_strings(doc):
        leaf = path.rsplit(".", 1)[-1].replace("(key)", "").split("[")[0].lower()
        if leaf in SECRET_KEYS and not path.endswith("(key)"):
            raise Failed(f"{rel}{path}: '{leaf}' holds a literal value; secrets never go inline")
        if path.endswith(".ccePolicy") or path.endswith(".ccePolicy.value"):
            continue  # a base64 Rego policy (checked in 'hostdata'), public by design
        if re.fullmatch(r"[0-9a-f]{64}", value):
            continue  # hostdata: a SHA-256, public
        for pattern, what in SECRET_PATTERNS:
            check(not pattern.search(value), f"{rel}{path}: looks like {what}")
        counts[0] += 1
    for path, _ in walk_strings(doc):
        check("securevalue" not in path.lower(), f"{rel}{path}: secureValue in a shipped file")


def check_references(repo, report):
    refs = declared_params = 0
    volume_pairs = 0
    strings = [0]
    for template_rel, params_rel in TEMPLATES:
        template = load_json(repo, template_rel)
        params = template.get("parameters", {})
        variables = template.get("variables", {})
        used = {"parameters": set(), "variables": set()}
        for _, value in walk_strings({k: v for k, v in template.items() if k != "parameters"} |
                                     {"parameters": {k: v.get("defaultValue") for k, v in
                                                     params.items()}}):
            if not value.startswith("["):
                continue
            for kind, name in REF.findall(value):
                kind = kind.lower()
                used[kind].add(name)
                refs += 1
                declared = params if kind == "parameters" else variables
                check(name in declared, f"{template_rel}: {kind}('{name}') is not declared")
        unused = set(params) - used["parameters"]
        check(not unused, f"{template_rel}: parameters declared but never used: {sorted(unused)}")
        unused = set(variables) - used["variables"]
        check(not unused, f"{template_rel}: variables declared but never used: {sorted(unused)}")
        declared_params += len(params)
        for name, decl in params.items():
            check(decl.get("type", "").lower() not in ("securestring", "secureobject")
                  or "defaultValue" not in decl,
                  f"{template_rel}: secure parameter '{name}' has a default value")
        given = load_json(repo, params_rel)
        check(set(given) <= {"$schema", "contentVersion", "parameters"},
              f"{params_rel}: unexpected top-level keys {sorted(set(given))}")
        extra = set(given["parameters"]) - set(params)
        check(not extra, f"{params_rel}: names undeclared parameters {sorted(extra)}")
        for name, entry in given["parameters"].items():
            check(set(entry) == {"value"}, f"{params_rel}: '{name}' must be {{\"value\": ...}}")
            allowed = params[name].get("allowedValues")
            check(allowed is None or entry["value"] in allowed,
                  f"{params_rel}: '{name}' = {entry['value']!r} not in {allowed}")
        parameter_values(repo, template_rel, params_rel)  # every required parameter is given
        check_secrets(template_rel, template, strings)
        check_secrets(params_rel, given, strings)
        # Security-relevant container settings must be literals: a parameter WITHOUT a default
        # becomes a wildcard in the CCE policy.
        for group in container_groups(template["resources"]):
            for c in group.get("initContainers", []) + group["containers"]:
                for env in c["properties"].get("environmentVariables", []):
                    for kind, name in REF.findall(env.get("value", "")):
                        check(kind.lower() == "variables" or "defaultValue" in params[name],
                              f"{template_rel}: env {env['name']} of {c['name']} uses parameter "
                              f"'{name}' without a default (confcom would wildcard it)")
    aci = yaml.safe_load((repo / ACI_YAML).read_text())
    check_secrets(ACI_YAML, aci, strings)
    docs = [(rel, load_json(repo, rel)["resources"]) for rel, _ in TEMPLATES] + [(ACI_YAML, aci)]
    for rel, doc in docs:
        for group in container_groups(doc):
            volumes = [v["name"] for v in group["volumes"]]
            check(len(volumes) == len(set(volumes)), f"{rel}: duplicate volume names {volumes}")
            mounted = set()
            for c in group.get("initContainers", []) + group["containers"]:
                for m in c["properties"].get("volumeMounts", []):
                    check(m["name"] in volumes,
                          f"{rel}: {c['name']} mounts '{m['name']}', not in volumes {volumes}")
                    mounted.add(m["name"])
                    volume_pairs += 1
            check(mounted == set(volumes),
                  f"{rel}: volumes never mounted: {sorted(set(volumes) - mounted)}")
    report.append(f"{refs} parameters()/variables() references resolve, {declared_params} "
                  f"declared parameters all used, {volume_pairs} volumeMounts match volumes, "
                  f"{strings[0]} strings free of secrets")


# ------------------------------------------------------------------------------------------------
# checks: consistency between Kubernetes, ACI YAML, ARM group and NGroups profile


def image_repository(image):
    image = image.split("@", 1)[0]
    head, _, tail = image.rpartition("/")
    return (head + "/" if head else "") + tail.split(":", 1)[0]


def aci_model(group, source):
    model = {"containers": {}, "volumes": sorted(v["name"] for v in group["volumes"])}
    configs = []
    for c in group.get("initContainers", []) + group["containers"]:
        p = c["properties"]
        sc = p.get("securityContext", {})
        env = {e["name"]: e.get("value") for e in p.get("environmentVariables", [])}
        if "SKR_CONFIG_YAML" in env:
            configs.append(env["SKR_CONFIG_YAML"])
        model["containers"][c["name"]] = {
            "image": image_repository(p["image"]),
            "uid": sc.get("runAsUser"), "gid": sc.get("runAsGroup"),
            "mounts": {m["name"]: (m["mountPath"], bool(m.get("readOnly", False)))
                       for m in p.get("volumeMounts", [])},
            "socket": env.get("SKR_SOCKET"),
            "no_escalation": sc.get("allowPrivilegeEscalation") is False,
            "drops_all": "ALL" in sc.get("capabilities", {}).get("drop", []),
        }
    check(configs, f"{source}: no SKR_CONFIG_YAML")
    check(all(c == configs[0] for c in configs), f"{source}: SKR_CONFIG_YAML differs between "
                                                  "containers")
    model["config_text"] = configs[0]
    return model


def k8s_models(repo):
    files = sorted((repo / K8S_DIR).glob("*.yaml"))
    check(files, f"{K8S_DIR}/*.yaml: none found (the Kubernetes manifests are compared too)")
    docs = []
    for f in files:
        docs += [(f.relative_to(repo), d) for d in yaml.safe_load_all(f.read_text()) if d]
    configmaps = {d["metadata"]["name"]: d for _, d in docs if d.get("kind") == "ConfigMap"}
    check("skr-config" in configmaps, f"{K8S_DIR}: no ConfigMap skr-config")
    config_text = configmaps["skr-config"]["data"]["skr.yaml"]
    models = []
    for rel, d in docs:
        if d.get("kind") == "Pod":
            spec = d["spec"]
        elif d.get("kind") in ("Deployment", "StatefulSet"):
            spec = d["spec"]["template"]["spec"]
        else:
            continue
        pod_sc = spec.get("securityContext", {})
        model = {"containers": {}, "volumes": sorted(v["name"] for v in spec["volumes"]),
                 "config_text": config_text}
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext", {})
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            model["containers"][c["name"]] = {
                "image": image_repository(c["image"]),
                "uid": sc.get("runAsUser", pod_sc.get("runAsUser")),
                "gid": sc.get("runAsGroup", pod_sc.get("runAsGroup")),
                "mounts": {m["name"]: (m["mountPath"], bool(m.get("readOnly", False)))
                           for m in c.get("volumeMounts", [])},
                "socket": env.get("SKR_SOCKET"),
                "no_escalation": sc.get("allowPrivilegeEscalation") is False,
                "drops_all": "ALL" in sc.get("capabilities", {}).get("drop", []),
            }
        models.append((f"{rel} {d['kind']}", model))
    check(models, f"{K8S_DIR}: no Pod or Deployment")
    return models


def check_group_semantics(label, m):
    """What must hold inside one group, whatever the platform."""
    config = yaml.safe_load(m["config_text"])
    agent_cfg = config["agent"]
    c = m["containers"]
    check(set(c) >= {"skr-init", "skr-agent", "app"}, f"{label}: containers {sorted(c)}")
    mounts = {name: x["mounts"] for name, x in c.items()}
    keys_path = mounts["skr-agent"]["skr-keys"][0]
    sock_path = mounts["skr-agent"]["skr-sock"][0]
    check("skr-keys" not in mounts["app"], f"{label}: the app mounts skr-keys")
    check(mounts["app"]["skr-sock"][1], f"{label}: the app's skr-sock mount is not readOnly")
    check(not mounts["skr-agent"]["skr-sock"][1] and not mounts["skr-agent"]["skr-keys"][1]
          and not mounts["skr-init"]["skr-keys"][1], f"{label}: init/agent mounts must be rw")
    check(mounts["skr-init"]["skr-keys"][0] == keys_path, f"{label}: init and agent disagree on "
                                                          "the skr-keys path")
    check(config["state_dir"].startswith(keys_path + "/"), f"{label}: state_dir outside skr-keys")
    check(agent_cfg["admin_socket"].startswith(keys_path + "/"),
          f"{label}: admin socket outside skr-keys (the app could reach it)")
    check(agent_cfg["client_socket"].startswith(sock_path + "/"),
          f"{label}: client socket outside skr-sock")
    check(c["app"]["socket"] == agent_cfg["client_socket"],
          f"{label}: app SKR_SOCKET {c['app']['socket']} != {agent_cfg['client_socket']}")
    check(c["skr-agent"]["gid"] == c["app"]["gid"] == agent_cfg["socket_group"],
          f"{label}: socket group {agent_cfg['socket_group']} is not the agent's and app's gid")
    check(c["skr-init"]["uid"] == c["skr-agent"]["uid"],
          f"{label}: init and agent must share a uid (the sealed state dir is the agent's)")
    app_rules = [r for r in agent_cfg["clients"] if c["app"]["uid"] in r.get("uids", [])]
    check(app_rules, f"{label}: app uid {c['app']['uid']} is in no clients: rule")
    check(c["app"]["uid"] not in agent_cfg["admin_uids"], f"{label}: the app is an admin")
    check(c["skr-agent"]["uid"] in agent_cfg["admin_uids"],
          f"{label}: the agent's uid (skrctl probes and rotate) is not in admin_uids")
    for name, x in c.items():
        check(x["uid"] not in (None, 0), f"{label}: {name} runs as root or an unset uid")
        check(x["no_escalation"] and x["drops_all"],
              f"{label}: {name}: allowPrivilegeEscalation false and drop ALL expected")
    return config


def check_consistency(repo, report):
    group = load_json(repo, GROUP_TEMPLATE)
    resources, _ = evaluated_template(repo, GROUP_TEMPLATE, GROUP_PARAMS)
    models = [(GROUP_TEMPLATE, aci_model(resources[0]["properties"], GROUP_TEMPLATE))]
    nresources, _ = evaluated_template(repo, NGROUPS_TEMPLATE, NGROUPS_PARAMS)
    profile = next(r for r, raw in zip(nresources, load_json(repo, NGROUPS_TEMPLATE)["resources"])
                   if raw["type"].endswith("containerGroupProfiles"))
    models.append((f"{NGROUPS_TEMPLATE} profile", aci_model(profile["properties"], "profile")))
    aci = yaml.safe_load((repo / ACI_YAML).read_text())
    models.append((ACI_YAML, aci_model(aci["properties"], ACI_YAML)))
    models += k8s_models(repo)
    reference_label, reference = models[0]
    reference_config = None
    for label, m in models:
        config = check_group_semantics(label, m)
        if reference_config is None:
            reference_config = config
        check(config == reference_config, f"{label}: the skr configuration differs from "
                                          f"{reference_label}'s")
        check(m["volumes"] == reference["volumes"],
              f"{label}: volumes {m['volumes']} != {reference['volumes']}")
        for name, want in reference["containers"].items():
            got = m["containers"].get(name)
            check(got is not None, f"{label}: no container {name}")
            for field in ("image", "uid", "gid", "mounts", "socket"):
                check(got[field] == want[field], f"{label}: {name}.{field} = {got[field]!r}, "
                                                 f"{reference_label} has {want[field]!r}")
    # The three ACI forms are one group: the same literal configuration text (measured by the
    # CCE policy byte for byte) and the same container settings.
    for label, m in models[:3]:
        check(m["config_text"] == reference["config_text"],
              f"{label}: SKR_CONFIG_YAML text differs from {reference_label}'s")
    arm_props = resources[0]["properties"]
    for other, label in ((profile["properties"], "NGroups profile"), (aci["properties"], ACI_YAML)):
        for kind in ("initContainers", "containers"):
            a = [c for c in arm_props[kind]]
            b = [c for c in other[kind]]
            check(a == b, f"{label}: {kind} differ from {GROUP_TEMPLATE} (same policy needed)")
        check(other["volumes"] == arm_props["volumes"], f"{label}: volumes differ")
    # The key the config names is the one skr-key.json creates, under the MAA it trusts.
    key_values = parameter_values(repo, KEY_TEMPLATE, KEY_PARAMS)
    key_cfg = reference_config["keys"][0]
    check(key_cfg["name"] == key_values["keyName"] and
          key_cfg.get("vault", key_cfg.get("mhsm")) == key_values["vaultName"],
          f"{KEY_PARAMS}: key {key_values['vaultName']}/{key_values['keyName']} is not the "
          f"configured {key_cfg}")
    check(("mhsm" in key_cfg) == (key_values["vaultKind"] == "managedhsm"),
          f"{KEY_PARAMS}: vaultKind does not match vault:/mhsm: of the configuration")
    check(reference_config["attestation"]["maa_endpoint"].rstrip("/") ==
          key_values["maaAuthority"].rstrip("/"),
          f"{KEY_PARAMS}: maaAuthority differs from attestation.maa_endpoint")
    report.append(f"{len(models)} group definitions agree ({', '.join(l for l, _ in models)}): "
                  f"{len(reference['containers'])} containers x image/uid/gid/mounts/socket, "
                  f"{len(reference['volumes'])} volumes, one skr configuration; key and MAA match "
                  f"{KEY_PARAMS}")
    return reference_config


# ------------------------------------------------------------------------------------------------
# checks: hostdata, release policy, emulator


def run(cmd, env=None, timeout=120):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def check_policy_text(label, b64):
    try:
        text = base64.b64decode(b64, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as e:
        raise Failed(f"{label}: ccePolicy is not base64 of UTF-8 text: {e}")
    check(text.startswith("package policy"), f"{label}: decoded ccePolicy is not a Rego policy")
    for needle in ("api_version :=", "framework_version :=", "containers :=",
                   "create_container := data.framework.create_container"):
        check(needle in text, f"{label}: decoded ccePolicy lacks '{needle}'")
    check("SAMPLE" in text and "az confcom acipolicygen" in text,
          f"{label}: the shipped ccePolicy must say it is a sample to replace with confcom output")
    return text


def release_policy_from_template(repo, overrides=None):
    resources, ctx = evaluated_template(repo, KEY_TEMPLATE, KEY_PARAMS, overrides)
    keys = [r for r, raw in zip(resources, load_json(repo, KEY_TEMPLATE)["resources"])
            if raw["type"].endswith("/keys")]
    data = keys[0]["properties"]["release_policy"]["data"]
    check(all(k["properties"]["release_policy"]["data"] == data for k in keys),
          f"{KEY_TEMPLATE}: Key Vault and Managed HSM keys carry different policies")
    check(re.fullmatch(r"[A-Za-z0-9_-]+", data), f"{KEY_TEMPLATE}: release_policy.data is not "
                                                 "unpadded base64url")
    decoded = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    check(decoded == ctx.variables["releasePolicy"], f"{KEY_TEMPLATE}: data does not decode to "
                                                     "variables('releasePolicy')")
    return decoded, keys, resources


def shipped_config(repo):
    """The skr configuration of the ARM container group (SKR_CONFIG_YAML of skr-agent)."""
    resources, _ = evaluated_template(repo, GROUP_TEMPLATE, GROUP_PARAMS)
    return yaml.safe_load(aci_model(resources[0]["properties"], GROUP_TEMPLATE)["config_text"])


def check_hostdata(repo, args, report, config):
    skrctl = args.skrctl
    group_values = parameter_values(repo, GROUP_TEMPLATE, GROUP_PARAMS)
    ngroups_values = parameter_values(repo, NGROUPS_TEMPLATE, NGROUPS_PARAMS)
    aci = yaml.safe_load((repo / ACI_YAML).read_text())
    policy = group_values["ccePolicy"]
    check_policy_text(GROUP_PARAMS, policy)
    check(ngroups_values["ccePolicy"] == policy, f"{NGROUPS_PARAMS}: ccePolicy differs from "
                                                 f"{GROUP_PARAMS} (one policy serves both)")
    check(aci["properties"]["confidentialComputeProperties"]["ccePolicy"] == policy,
          f"{ACI_YAML}: ccePolicy differs from {GROUP_PARAMS}")
    with tempfile.TemporaryDirectory(prefix="skr-deploy-") as tmp:
        policy_file = Path(tmp) / "cce-policy.b64"
        policy_file.write_text(policy)
        result = run([skrctl, "hostdata", "--policy", str(policy_file)])
        check(result.returncode == 0, f"skrctl hostdata failed: {result.stderr.strip()}")
        hostdata = result.stdout.strip()
    key_values = parameter_values(repo, KEY_TEMPLATE, KEY_PARAMS)
    check(hostdata == key_values["hostdata"],
          f"{KEY_PARAMS}: hostdata {key_values['hostdata']} but skrctl hostdata of "
          f"{GROUP_PARAMS}'s ccePolicy is {hostdata}")
    # The template builds the policy skrctl prints (same claims, authority, version).
    template_policy, keys, resources = release_policy_from_template(repo)
    result = run([skrctl, "release-policy", "--authority", key_values["maaAuthority"],
                  "--hostdata", hostdata])
    check(result.returncode == 0, f"skrctl release-policy failed: {result.stderr.strip()}")
    skrctl_policy = json.loads(result.stdout)
    check(template_policy == skrctl_policy,
          f"{KEY_TEMPLATE}: release policy {json.dumps(template_policy)} != skrctl release-policy "
          f"{json.dumps(skrctl_policy)}")
    for k in keys:
        check(k["properties"]["attributes"]["exportable"] is True, f"{KEY_TEMPLATE}: not exportable")
        check(k["properties"]["kty"].endswith("-HSM"), f"{KEY_TEMPLATE}: key is not HSM-backed")
    role = next(r for r in resources if "roleDefinitionId" in r.get("properties", {}))
    check(role["properties"]["roleDefinitionId"].endswith("/" + RELEASE_USER_ROLE_ID),
          f"{KEY_TEMPLATE}: role is not Key Vault Crypto Service Release User")
    report.append(f"skrctl hostdata of the ccePolicy ({len(policy)} base64 chars, shared by the "
                  f"group, NGroups and ACI YAML) = {hostdata[:16]}... = {KEY_PARAMS} hostdata; "
                  f"{KEY_TEMPLATE}'s release_policy.data decodes to exactly skrctl "
                  f"release-policy ({len(skrctl_policy['anyOf'][0]['allOf'])} claims)")
    report.append(emulator_release(repo, args, hostdata, config))


def emulator_release(repo, args, hostdata, config):
    """A real skr-emulator: a chip with the group's hostdata gets the key, another does not."""
    key_cfg = config["keys"][0]
    with tempfile.TemporaryDirectory(prefix="skr-deploy-") as tmp:
        tmp = Path(tmp)
        state = tmp / "emulator"
        log = open(tmp / "emulator.log", "w")
        emu = subprocess.Popen([args.emulator, "--state", str(state)], stdout=log, stderr=log)
        try:
            env_file = state / "endpoints.env"
            for _ in range(300):
                if env_file.exists() or emu.poll() is not None:
                    break
                time.sleep(0.1)
            check(env_file.exists(), "skr-emulator did not start: " +
                  (tmp / "emulator.log").read_text()[-2000:])
            e = read_env_file(env_file)
            admin = e["SKR_EMULATOR_ADMIN_URL"] + "/_emulator"
            ca = e["SKR_EMULATOR_CA_FILE"]
            http_json("PUT", admin + "/chip", {"host_data": hostdata, "debug": False})
            # Like Azure: an operator creates the key; the group's identity only may release it,
            # with the role skr-key.json assigns (Key Vault Crypto Service Release User), on it.
            operator = http_json("POST", admin + "/identities", {"kind": "user", "name": "operator"})
            group = http_json("POST", admin + "/identities", {"kind": "user", "name": "skr-app-id"})
            http_json("POST", admin + "/role-assignments",
                      {"principal_id": operator["object_id"], "role": "Key Vault Crypto Officer",
                       "vault": "vault"})
            http_json("POST", admin + "/role-assignments",
                      {"principal_id": group["object_id"],
                       "role": "Key Vault Crypto Service Release User", "vault": "vault",
                       "scope": f"/keys/{key_cfg['name']}"})
            token = http_json("GET", e["SKR_EMULATOR_IMDS_URL"] +
                              "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" +
                              urllib.parse.quote("https://vault.azure.net", safe="") +
                              "&client_id=" + operator["client_id"],
                              headers={"Metadata": "true"})["access_token"]
            # The emulated MAA grants azure-compliant-uvm only with a UVM endorsement, which
            # skr-init sends from the ACI security context; emulated chips have none, so the
            # emulator's key policy omits that one claim (everything else as in skr-key.json).
            result = run([args.skrctl, "release-policy", "--authority", e["SKR_EMULATOR_MAA_URL"],
                          "--hostdata", hostdata, "--no-uvm-compliance", "--wire"])
            check(result.returncode == 0, f"skrctl release-policy --wire: {result.stderr}")
            wire = json.loads(result.stdout)
            created = http_json("POST", f"{e['SKR_EMULATOR_VAULT_URL']}/keys/{key_cfg['name']}"
                                        "/create?api-version=7.4",
                                {"kty": "RSA-HSM", "key_size": 3072,
                                 "attributes": {"exportable": True}, "release_policy": wire},
                                headers={"Authorization": "Bearer " + token}, ca=ca)
            check("key" in created, f"emulator key create: {created}")
            # The shipped configuration with only what the emulator replaces overridden by
            # SKR_* variables (platform, endpoints, state); the agent's identity, not init's
            # 'none', since this run must perform the release.
            cfg = {
                "platform": {"kind": "emulated", "chip_dir": e["SKR_EMULATOR_CHIP_DIR"]},
                "attestation": {"maa_endpoint": e["SKR_EMULATOR_MAA_URL"],
                                "collateral": {"sources": ["thim"],
                                               "thim_url": e["SKR_EMULATOR_IMDS_URL"] +
                                               "/metadata/THIM/amd/certification"}},
                "identity": {"kind": "managed", "imds_endpoint": e["SKR_EMULATOR_IMDS_URL"],
                             "client_id": group["client_id"]},
                "keys": [{"name": key_cfg["name"], "vault": e["SKR_EMULATOR_VAULT_URL"]}],
                "state_dir": str(tmp / "keys" / "sealed"),
                "seal": {"provider": "emulated"},
                "tls": {"ca_file": ca},
                "retry": {"max_attempts": 2, "base": "100ms", "cap": "1s", "overall": "10s"},
                "log": config["log"],
            }
            # The skr-keys volume exists (a mount); skr-init creates state_dir's last component.
            (tmp / "keys").mkdir(mode=0o700)
            run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                       "SKR_CONFIG_YAML": yaml.safe_dump(cfg)}
            accepted = run([args.init, "--timeout", "60s"], env=run_env)
            check(accepted.returncode == 0, "skr-init with the group's hostdata: exit "
                  f"{accepted.returncode}, expected 0: {accepted.stderr.strip()[-600:]}")
            bundle_dir = tmp / "keys" / "sealed" / key_cfg["name"]
            check((bundle_dir / "current").is_file(), "no sealed bundle after a release")
            other = "00" * 31 + "ff"
            http_json("PUT", admin + "/chip", {"host_data": other, "debug": False})
            refused = run([args.init, "--timeout", "60s"], env=run_env)
            check(refused.returncode == 6, "skr-init with another hostdata: exit "
                  f"{refused.returncode}, expected 6 (release denied): "
                  f"{refused.stderr.strip()[-600:]}")
        finally:
            emu.send_signal(signal.SIGTERM)
            try:
                emu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                emu.kill()
                emu.wait()
            log.close()
    return ("emulator: a key with the release policy for this hostdata is released to a chip "
            "with that hostdata (skr-init exit 0, sealed bundle written) and refused for another "
            "(exit 6)")


# ------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skrctl", required=True)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--init", required=True, help="skr-init binary")
    parser.add_argument("--repo", default=str(HERE.parent.parent))
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    schemas = SwaggerSchemas(SWAGGER_DIR)

    results = []
    state = {}

    def step(name, fn):
        report = []
        try:
            value = fn(report)
            state[name] = value
            results.append((name, True, report))
        except Failed as e:
            results.append((name, False, [str(e)]))
        except Exception as e:  # a crash of the checker is a failure too, with its cause
            results.append((name, False, [f"{type(e).__name__}: {e}"]))

    step("schema", lambda r: check_schema(repo, schemas, r))
    step("references", lambda r: check_references(repo, r))
    step("consistency", lambda r: check_consistency(repo, r))
    step("hostdata", lambda r: check_hostdata(repo, args, r, shipped_config(repo)))

    for name, ok, lines in results:
        print(f"{'PASS' if ok else 'FAIL'} {name}")
        for line in lines:
            print(f"     {line}")
    failed = [name for name, ok, _ in results if not ok]
    print(f"deploy templates: {len(results) - len(failed)}/{len(results)} checks passed" +
          (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
