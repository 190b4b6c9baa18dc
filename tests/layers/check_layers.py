#!/usr/bin/env python3
"""The include-layer check of common/ (issue 15 §5; the layers are declared in common/CMakeLists.txt).

1. Reads <layers>/layers.txt ("<layer>: <layers it may include>", written by CMake) and every
   #include "common/..." of every file under common/<layer>/: each must name a visible layer.
2. Proves the build enforces it: for every pair of layers, preprocesses a probe that includes a header
   of the other layer with only that layer's include view (-I <layers>/<layer>), as the layer's own
   sources are compiled. A visible layer must resolve; any other must fail with "No such file".
Prints one line per violation and a summary; exit status 1 on any violation.
"""
import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"common/([a-z_]+)/([^"]+)"', re.M)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repo", required=True, type=pathlib.Path)
    ap.add_argument("--layers", required=True, type=pathlib.Path, help="build/layers")
    ap.add_argument("--cxx", default="c++")
    args = ap.parse_args()

    visible = {}
    for line in (args.layers / "layers.txt").read_text().splitlines():
        layer, _, deps = line.partition(":")
        visible[layer.strip()] = set(deps.split())
    common = args.repo / "common"
    folders = {p.name for p in common.iterdir() if p.is_dir()}
    problems = []
    if folders != set(visible):
        problems.append(f"folders under common/ {sorted(folders)} are not the declared layers "
                        f"{sorted(visible)}")

    # 1. The sources.
    includes = 0
    for layer in sorted(visible):
        for path in sorted((common / layer).glob("*")):
            if path.suffix not in (".h", ".cc"):
                continue
            for m in INCLUDE.finditer(path.read_text()):
                includes += 1
                target = m.group(1)
                if target not in visible[layer]:
                    problems.append(f"common/{layer}/{path.name} includes common/{target}/"
                                    f"{m.group(2)}: layer '{layer}' may include only "
                                    f"{' '.join(sorted(visible[layer]))}")

    # 2. The compiler refuses what the layers do not allow, and accepts what they do.
    probes = refused = 0
    with tempfile.TemporaryDirectory() as tmp:
        for layer in sorted(visible):
            for other in sorted(visible):
                header = sorted((common / other).glob("*.h"))[0].name
                probe = pathlib.Path(tmp) / f"{layer}_{other}.cc"
                probe.write_text(f'#include "common/{other}/{header}"\n')
                run = subprocess.run(
                    [args.cxx, "-std=c++20", "-E", "-o", "/dev/null", "-I",
                     str(args.layers / layer), str(probe)],
                    capture_output=True, text=True)
                probes += 1
                allowed = other in visible[layer]
                if allowed and run.returncode != 0:
                    problems.append(f"layer '{layer}' cannot include common/{other}/{header} "
                                    f"although it may: {run.stderr.strip()[:300]}")
                elif not allowed:
                    if run.returncode == 0:
                        problems.append(f"layer '{layer}' can include common/{other}/{header}: "
                                        f"the build does not enforce the layers")
                    elif "No such file" not in run.stderr:
                        problems.append(f"probe {layer} -> {other} failed for another reason: "
                                        f"{run.stderr.strip()[:300]}")
                    else:
                        refused += 1

    for p in problems:
        print(f"check_layers: {p}")
    print(f"check_layers: {len(visible)} layers, {includes} includes checked, {probes} compiler "
          f"probes ({refused} refused as they must), {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
