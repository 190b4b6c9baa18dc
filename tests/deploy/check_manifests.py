#!/usr/bin/env python3
"""Checks the Kubernetes manifests users apply (manifests/kubernetes/*.yaml,
manifests/aks-virtual-node/*.yaml) for what skr's security model needs, and that the podman
variant CI runs (tests/deploy/podman_variant.py) changes only what it documents:

  * skr-init is an init container; skr-agent is a native sidecar (init container with
    restartPolicy Always) whose startupProbe runs `skrctl health --ready`; the app is a container;
  * volumes skr-keys and skr-sock are emptyDir medium Memory; skr-keys is mounted by skr-init and
    skr-agent only; the app mounts skr-sock read-only;
  * every container: runAsUser/runAsGroup, runAsNonRoot, readOnlyRootFilesystem, no privilege
    escalation, all capabilities dropped; skr-init and skr-agent share the uid that owns the
    state directory; the agent's and the app's runAsGroup is the socket group;
  * the ConfigMap's skr.yaml is manifests/config/skr.yaml without comments; the app's uid is in a clients: rule, the agent's uid in admin_uids,
    the sockets and state_dir live in the mounted volumes; the real skr-init accepts it
    (configuration errors exit 2; here only the missing SEV-SNP device stops it, exit 3);
  * the pod variant: only the documented fields differ.

Usage: check_manifests.py REPO_ROOT --skr-init PATH     Prints `N passed, N failed`.
"""

import argparse
import copy
import os
import pathlib
import subprocess
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import podman_variant  # noqa: E402
from checker import Checker  # noqa: E402



def pod_spec(doc):
    if doc["kind"] == "Pod":
        return doc["spec"]
    return doc["spec"]["template"]["spec"]


def under(path, mount):
    return path == mount or path.startswith(mount.rstrip("/") + "/")


def check_file(path, c, skr_init, reference_config):
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    kinds = [d["kind"] for d in docs]
    c.check("ConfigMap" in kinds and ("Pod" in kinds or "Deployment" in kinds),
            f"{path}: a ConfigMap and a Pod or Deployment ({kinds})")
    cm = [d for d in docs if d["kind"] == "ConfigMap"][0]
    config_text = cm["data"]["skr.yaml"]
    config = yaml.safe_load(config_text)
    c.check(config == reference_config,
            f"{path}: the ConfigMap's skr.yaml is manifests/config/skr.yaml (same data, comments aside)")
    workload = [d for d in docs if d["kind"] in ("Pod", "Deployment")][0]
    spec = pod_spec(workload)
    inits = {x["name"]: x for x in spec.get("initContainers", [])}
    ctrs = {x["name"]: x for x in spec.get("containers", [])}
    c.check(list(inits) == ["skr-init", "skr-agent"], f"{path}: initContainers are skr-init, skr-agent in order")
    init, agent = inits.get("skr-init", {}), inits.get("skr-agent", {})
    c.check("restartPolicy" not in init, f"{path}: skr-init runs to completion (no restartPolicy)")
    c.check(agent.get("restartPolicy") == "Always", f"{path}: skr-agent is a native sidecar (restartPolicy: Always)")
    probe = agent.get("startupProbe", {}).get("exec", {}).get("command")
    c.check(probe == ["/usr/local/bin/skrctl", "health", "--ready"],
            f"{path}: skr-agent startupProbe runs skrctl health --ready ({probe})")
    c.check(list(ctrs) == ["app"], f"{path}: the app is the one container")
    app = ctrs.get("app", {})

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for name in ("skr-keys", "skr-sock"):
        c.check(volumes.get(name, {}).get("emptyDir", {}).get("medium") == "Memory",
                f"{path}: volume {name} is emptyDir medium Memory (tmpfs)")
    mounts = {n: {m["name"]: m for m in x.get("volumeMounts", [])}
              for n, x in (("skr-init", init), ("skr-agent", agent), ("app", app))}
    c.check(set(mounts["skr-init"]) == {"skr-keys"}, f"{path}: skr-init mounts skr-keys only")
    c.check(set(mounts["skr-agent"]) == {"skr-keys", "skr-sock"}, f"{path}: skr-agent mounts skr-keys and skr-sock")
    c.check(set(mounts["app"]) == {"skr-sock"}, f"{path}: the app mounts skr-sock only, never skr-keys")
    c.check(mounts["app"].get("skr-sock", {}).get("readOnly") is True, f"{path}: the app's skr-sock mount is readOnly")
    for n in ("skr-init", "skr-agent"):
        c.check(not mounts[n].get("skr-keys", {}).get("readOnly"), f"{path}: {n} mounts skr-keys read-write")

    sc = {n: x.get("securityContext", {}) for n, x in (("skr-init", init), ("skr-agent", agent), ("app", app))}
    for n, s in sc.items():
        ok = (isinstance(s.get("runAsUser"), int) and s["runAsUser"] > 0 and isinstance(s.get("runAsGroup"), int)
              and s["runAsGroup"] > 0 and s.get("runAsNonRoot") is True and s.get("readOnlyRootFilesystem") is True
              and s.get("allowPrivilegeEscalation") is False and s.get("capabilities", {}).get("drop") == ["ALL"])
        c.check(ok, f"{path}: {n} securityContext: non-root uid/gid, read-only root, no escalation, drop ALL")
    c.check(sc["skr-init"].get("runAsUser") == sc["skr-agent"].get("runAsUser"),
            f"{path}: skr-init and skr-agent share the state directory's uid")

    agent_cfg = config.get("agent", {})
    c.check(sc["app"].get("runAsUser") in [u for r in agent_cfg.get("clients", []) for u in r.get("uids", [])],
            f"{path}: a clients: rule names the app's uid {sc['app'].get('runAsUser')}")
    c.check(sc["skr-agent"].get("runAsUser") in agent_cfg.get("admin_uids", []),
            f"{path}: admin_uids names the agent container's uid (skrctl via exec and probes)")
    c.check(agent_cfg.get("socket_group") == sc["skr-agent"].get("runAsGroup") == sc["app"].get("runAsGroup"),
            f"{path}: socket_group is the agent's and the app's runAsGroup")
    c.check(under(config.get("state_dir", ""), mounts["skr-agent"].get("skr-keys", {}).get("mountPath", "?")),
            f"{path}: state_dir {config.get('state_dir')} is in skr-keys")
    c.check(under(agent_cfg.get("admin_socket", ""), mounts["skr-agent"].get("skr-keys", {}).get("mountPath", "?")),
            f"{path}: the admin socket is in skr-keys (never visible to the app)")
    sock_mount = mounts["app"].get("skr-sock", {}).get("mountPath", "?")
    c.check(under(agent_cfg.get("client_socket", ""), sock_mount) and
            mounts["skr-agent"].get("skr-sock", {}).get("mountPath") == sock_mount,
            f"{path}: the client socket is in skr-sock, mounted at the same path in agent and app")
    app_env = {e["name"]: e.get("value") for e in app.get("env", [])}
    c.check(app_env.get("SKR_SOCKET") == agent_cfg.get("client_socket"),
            f"{path}: the app's SKR_SOCKET is the agent's client socket")
    for n, x in (("skr-init", init), ("skr-agent", agent)):
        env = {e["name"]: e for e in x.get("env", [])}
        ref = env.get("SKR_CONFIG_YAML", {}).get("valueFrom", {}).get("configMapKeyRef", {})
        c.check(ref == {"name": cm["metadata"]["name"], "key": "skr.yaml"},
                f"{path}: {n} reads SKR_CONFIG_YAML from the ConfigMap")
    c.check({e["name"]: e.get("value") for e in init.get("env", [])}.get("SKR_IDENTITY") == "none",
            f"{path}: skr-init attests and defers (SKR_IDENTITY=none)")

    if skr_init:
        env = dict(os.environ, SKR_CONFIG_YAML=config_text, SKR_IDENTITY="none")
        r = subprocess.run([skr_init, "--dry-run"], env=env, capture_output=True, text=True, timeout=60)
        c.check(r.returncode == 3 and "no SEV-SNP guest interface" in r.stdout + r.stderr,
                f"{path}: skr-init --dry-run accepts the configuration (exit {r.returncode}: "
                "only the SEV-SNP device is missing here)")
    return docs


def check_variant(docs, c):
    """The pod variant changes only the fields podman_variant.py documents."""
    endpoints = {"SKR_EMULATOR_MAA_URL": "https://127.0.0.1:1001", "SKR_EMULATOR_VAULT_URL": "https://127.0.0.1:1002",
                 "SKR_EMULATOR_IMDS_URL": "http://127.0.0.1:1003", "SKR_EMULATOR_STATE_DIR": "/e",
                 "SKR_EMULATOR_CA_FILE": "/e/ca.pem"}
    original = copy.deepcopy(docs)
    out = podman_variant.transform(copy.deepcopy(docs), endpoints, "/e", "client-1", "9.9")
    pod0 = [d for d in original if d["kind"] == "Pod"][0]
    pod1 = [d for d in out if d["kind"] == "Pod"][0]
    before = {x["name"]: x for x in pod0["spec"]["initContainers"] + pod0["spec"]["containers"]}
    after = {x["name"]: x for x in pod1["spec"]["initContainers"] + pod1["spec"]["containers"]}
    c.check([x["name"] for x in pod1["spec"]["containers"]] == ["skr-agent", "app"] and
            [x["name"] for x in pod1["spec"]["initContainers"]] == ["skr-init"],
            "variant: the native sidecar became the first container")
    for name, x in before.items():
        y = after[name]
        c.check(y["securityContext"] == x["securityContext"], f"variant: {name} securityContext unchanged")
        c.check([m for m in y.get("volumeMounts", []) if m["name"] != "skr-emulator"] == x.get("volumeMounts", []),
                f"variant: {name} volume mounts unchanged (plus the emulator's)")
        c.check(y["image"] == "localhost/" + x["image"].rsplit("/", 1)[-1].split(":")[0] + ":9.9",
                f"variant: {name} image is the local build")
    c.check({v["name"]: v for v in pod1["spec"]["volumes"] if v["name"] != "skr-emulator"} ==
            {v["name"]: v for v in pod0["spec"]["volumes"]}, "variant: the volumes are the manifest's")
    cfg0 = yaml.load([d for d in original if d["kind"] == "ConfigMap"][0]["data"]["skr.yaml"], Loader=podman_variant.Loader)
    cfg1 = yaml.load([d for d in out if d["kind"] == "ConfigMap"][0]["data"]["skr.yaml"], Loader=podman_variant.Loader)
    changed = sorted(k for k in set(cfg0) | set(cfg1) if cfg0.get(k) != cfg1.get(k))
    c.check(changed == ["attestation", "keys", "platform", "seal", "tls"],
            f"variant: only the Azure endpoint sections of the configuration change ({changed})")
    c.check([k["name"] for k in cfg1["keys"]] == [k["name"] for k in cfg0["keys"]], "variant: key names unchanged")
    c.check(str(cfg1["agent"]["socket_mode"]) == "0660" and
            {k: v for k, v in cfg1["agent"].items() if k != "socket_mode"} ==
            {k: v for k, v in cfg0["agent"].items() if k != "socket_mode"},
            "variant: the agent section (sockets, clients, uids) is unchanged, socket_mode still 0660")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--skr-init", default="")
    args = parser.parse_args()
    root = pathlib.Path(args.root)
    c = Checker()
    files = sorted(list((root / "manifests/kubernetes").glob("*.yaml")) +
                   list((root / "manifests/aks-virtual-node").glob("*.yaml")))
    c.check(len(files) >= 3, f"manifests found: {[str(f.relative_to(root)) for f in files]}")
    reference_config = yaml.safe_load((root / "manifests/config/skr.yaml").read_text(encoding="utf-8"))
    for f in files:
        docs = check_file(f, c, args.skr_init, reference_config)
        if any(d["kind"] == "Pod" for d in docs):
            check_variant(docs, c)
    vn2 = root / "manifests/aks-virtual-node/skr-deployment.yaml"
    if vn2.exists():
        dep = [d for d in yaml.safe_load_all(vn2.read_text()) if d and d["kind"] == "Deployment"][0]
        tmpl = dep["spec"]["template"]
        c.check("microsoft.containerinstance.virtualnode.ccepolicy" in tmpl["metadata"].get("annotations", {}),
                "aks-virtual-node: the pod template carries the CCE policy annotation")
        c.check(tmpl["spec"].get("nodeSelector") == {"virtualization": "virtualnode2"} and
                any(t.get("key") == "virtual-kubelet.io/provider" for t in tmpl["spec"].get("tolerations", [])),
                "aks-virtual-node: scheduled onto the virtual node (nodeSelector + toleration)")
    print(f"manifests: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
