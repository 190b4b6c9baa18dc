#!/usr/bin/env python3
"""Derives the pod that CI runs under `podman kube play` from a shipped Kubernetes manifest.

The manifest users apply stays the source: its ConfigMap (the skr configuration), uids and gids,
security contexts, volumes and mounts, commands and environment are taken as they are. Only what
podman 4.3 or this machine cannot do is changed, and nothing else (docs/deploy-kubernetes.md,
"How CI runs this manifest"):

1. Native sidecar: podman 4.3 refuses an init container with `restartPolicy: Always` or probes, so
   skr-agent moves from `initContainers` to the front of `containers`, and its probes are dropped
   (the test runs the same `skrctl health --ready` itself). The app then starts beside the agent,
   as on ACI, and waits for the socket (the sample app retries).
2. Azure is the emulator: the ConfigMap's Azure endpoints are pointed at skr-emulator (platform
   emulated with the emulator's chip, MAA, THIM collateral, the key's vault host, seal provider
   emulated, the emulator's CA). Key names, state_dir, sockets, clients, uids and everything else
   in the configuration are unchanged.
3. Identity: there is no AKS workload identity webhook here; the agent's SKR_IDENTITY=workload
   becomes `managed` against the emulator's IMDS with the emulated identity's client id.
4. Network and files: `hostNetwork: true` (the emulator listens on the host's 127.0.0.1) and a
   hostPath volume with the emulator's state (chip, CA) at /run/skr-emulator in skr-init and
   skr-agent only (read-write: the emulated chip serializes its users with a lock file there, as
   the firmware would).
5. Images: NAME:TAG from the manifest's registry become localhost/NAME:TAG (scripts/images).
6. `restartPolicy: Never` so that a failure shows instead of a restart loop; the ServiceAccount is
   dropped (podman has no API server).

Usage: podman_variant.py MANIFEST --endpoints ENDPOINTS_ENV --emulator-dir DIR --client-id ID
                         [--tag TAG]  > pod.yaml
"""

import argparse
import re
import sys

import yaml

EMULATOR_MOUNT = "/run/skr-emulator"


class Octal(str):
    """A YAML 1.1 octal such as `socket_mode: 0660`, kept as written (PyYAML would make it 432)."""


class Loader(yaml.SafeLoader):
    pass


class Dumper(yaml.SafeDumper):
    pass


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    if re.fullmatch(r"0[0-7]+", text):
        return Octal(text)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Dumper.add_representer(Octal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:int", str(v)))


def read_endpoints(path):
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^(?:export\s+)?([A-Z_]+)=['\"]?([^'\"\n]*)['\"]?$", line.strip())
            if m:
                values[m.group(1)] = m.group(2)
    for name in ("SKR_EMULATOR_MAA_URL", "SKR_EMULATOR_VAULT_URL", "SKR_EMULATOR_IMDS_URL",
                 "SKR_EMULATOR_STATE_DIR", "SKR_EMULATOR_CA_FILE"):
        if name not in values:
            sys.exit(f"podman_variant: {path} has no {name}")
    return values


def emulator_config(config, endpoints, emulator_dir):
    """The skr configuration with its Azure endpoints pointed at the emulator."""
    def in_mount(host_path):
        if not host_path.startswith(emulator_dir.rstrip("/") + "/"):
            sys.exit(f"podman_variant: {host_path} is not under {emulator_dir}")
        return EMULATOR_MOUNT + host_path[len(emulator_dir.rstrip("/")):]

    config = dict(config)
    config["platform"] = {"kind": "emulated", "chip_dir": EMULATOR_MOUNT + "/chip"}
    config["attestation"] = dict(config.get("attestation") or {})
    config["attestation"]["maa_endpoint"] = endpoints["SKR_EMULATOR_MAA_URL"]
    config["attestation"]["collateral"] = {
        "sources": ["thim"],
        "thim_url": endpoints["SKR_EMULATOR_IMDS_URL"] + "/metadata/THIM/amd/certification",
    }
    keys = []
    for key in config.get("keys") or []:
        key = dict(key)
        key.pop("mhsm", None)
        key["vault"] = endpoints["SKR_EMULATOR_VAULT_URL"]
        keys.append(key)
    config["keys"] = keys
    config["seal"] = {"provider": "emulated"}
    config["tls"] = {"ca_file": in_mount(endpoints["SKR_EMULATOR_CA_FILE"])}
    return config


def set_env(container, name, value):
    env = [e for e in container.get("env", []) if e["name"] != name]
    env.append({"name": name, "value": value})
    container["env"] = env


def transform(docs, endpoints, emulator_dir, client_id, tag):
    configmaps = {d["metadata"]["name"]: d for d in docs if d and d.get("kind") == "ConfigMap"}
    pods = [d for d in docs if d and d.get("kind") == "Pod"]
    if len(pods) != 1:
        sys.exit("podman_variant: the manifest must hold exactly one Pod")
    pod = pods[0]
    spec = pod["spec"]

    # 2. The configuration, endpoints only.
    for cm in configmaps.values():
        for key, text in list(cm.get("data", {}).items()):
            if key.endswith(".yaml"):
                cm["data"][key] = yaml.dump(
                    emulator_config(yaml.load(text, Loader=Loader), endpoints, emulator_dir),
                    Dumper=Dumper, sort_keys=False)

    # 1. The native sidecar becomes an ordinary container (first, so it starts first).
    sidecars = [c for c in spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    spec["initContainers"] = [c for c in spec.get("initContainers", []) if c not in sidecars]
    for c in sidecars:
        del c["restartPolicy"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            c.pop(probe, None)
    spec["containers"] = sidecars + spec["containers"]

    mount = {"name": "skr-emulator", "mountPath": EMULATOR_MOUNT}
    for c in spec["initContainers"] + spec["containers"]:
        # 5. Local images.
        name_tag = c["image"].rsplit("/", 1)[-1].split("@", 1)[0]
        name = name_tag.split(":", 1)[0]
        c["image"] = f"localhost/{name}:{tag or name_tag.split(':', 1)[1]}"
        uses_config = any(e["name"] == "SKR_CONFIG_YAML" for e in c.get("env", []))
        if uses_config:
            # 4. The emulator's chip and CA, for skr-init and skr-agent only.
            c.setdefault("volumeMounts", []).append(dict(mount))
            # 3. Identity: the emulator's IMDS instead of the workload identity webhook.
            for e in c.get("env", []):
                if e["name"] == "SKR_IDENTITY" and e.get("value") == "workload":
                    e["value"] = "managed"
                    set_env(c, "SKR_CLIENT_ID", client_id)
                    set_env(c, "SKR_IMDS_ENDPOINT", endpoints["SKR_EMULATOR_IMDS_URL"])
    spec.setdefault("volumes", []).append(
        {"name": "skr-emulator", "hostPath": {"path": emulator_dir, "type": "Directory"}})
    spec["hostNetwork"] = True
    spec["restartPolicy"] = "Never"
    spec.pop("serviceAccountName", None)
    return list(configmaps.values()) + [pod]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("manifest")
    parser.add_argument("--endpoints", required=True, help="the emulator's endpoints.env")
    parser.add_argument("--emulator-dir", required=True, help="the emulator's state directory")
    parser.add_argument("--client-id", required=True, help="the emulated managed identity")
    parser.add_argument("--tag", default="", help="image tag (default: the manifest's)")
    args = parser.parse_args()
    with open(args.manifest, encoding="utf-8") as f:
        docs = list(yaml.safe_load_all(f))
    out = transform(docs, read_endpoints(args.endpoints), args.emulator_dir, args.client_id,
                    args.tag)
    yaml.safe_dump_all(out, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
