#!/usr/bin/env python3
"""Poco's throwing JSON readers stay inside common/json (issue 15).

Poco::JSON::Object::getValue/getObject/getArray/optValue and Poco::Dynamic::Var::extract/convert
throw (or silently convert) on a missing member or a value of another type. JSON from outside is
untrusted, so the rest of the code reads it through common/json's StatusOr getters (json::getString,
json::getObject(array, i, ...), json::asInt(value, ...)), which name the member in their error.
Prints one line per use outside common/json in the production sources; exit status 1 on any.
"""
import argparse
import pathlib
import re
import sys

FORBIDDEN = re.compile(
    r"(->|\.)(getValue|getObject|getArray|getNullableValue|optValue|optElement)\s*[<(]"
    r"|\.(extract|convert)\s*<"
    r"|\bPoco::JSON::Query\b")
SOURCES = ("agent", "client", "common", "ctl", "init", "emulator")
EXEMPT = "common/json/"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repo", required=True, type=pathlib.Path)
    args = ap.parse_args()
    problems = []
    files = 0
    for top in SOURCES:
        for path in sorted((args.repo / top).rglob("*")):
            if path.suffix not in (".h", ".cc"):
                continue
            rel = path.relative_to(args.repo).as_posix()
            if rel.startswith(EXEMPT):
                continue
            files += 1
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("//", 1)[0]
                m = FORBIDDEN.search(code)
                if m:
                    problems.append(f"{rel}:{number}: '{m.group(0).strip()}' is Poco's throwing "
                                    f"reader; use the json:: getters (common/json/json.h)")
    for p in problems:
        print(p)
    print(f"checked {files} files: {len(problems)} use(s) of Poco's throwing JSON readers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
