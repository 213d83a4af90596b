#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""PyYAML as the oracle of yaml_parse(): every YAML document of tests/fuzz/corpus/userdata-config and the scalar
cases below are given to PyYAML's yaml.safe_load() (what cloud-init uses) and to yaml-dump (yaml_parse()); the
typed trees must be equal (timestamps compared by type), and a document safe_load refuses must be refused.
Documents over azl-agent's bounds (alias bombs, nesting) are counted, not compared. Exit 77 without PyYAML."""
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("SKIP: PyYAML (python3-yaml) is not installed")
    sys.exit(77)

DUMP = sys.argv[1]
CORPUS = sys.argv[2]
SCALARS = ["yes", "No", "ON", "off", "y", "n", "true", "False", "0644", "0o644", "09", "0x1F", "0b101", "-0b1",
           "1_000", "1:30", "-1:00:00", "1:60", "1.5", "1.", ".5", "-.5", "1e3", "1.0e+3", "1.0e3", "+.inf", "-.Inf",
           ".NaN", "1:30.5", "~", "null", "Null", "nULL", "", "2024-01-31", "2024-1-31 10:00:00", "2024-1-3",
           "'quoted'", "\"0644\"", "!!str 12", "!!int '12'", "!!float 1", "!!bool yes", "!!binary aGk=", "<<",
           "=", "12abc", "0.", "-0", "+12", "9223372036854775807", "1__", "0x_", "1:2:3", "123456789012345678901"]

# Whole documents: tabs (PyYAML takes them only in quoted and block scalars and comments), anchors, merge keys.
DOCS = ["a:\tb", "a: b\t", "a: 1 # x\ty", "# c\td\na: 1", "a: 1\n\t\nb: 2", "a: |\n  x\ty\n", "a: \"x\ty\"",
        "a: 'x\ty'", "a: b\tc", "a: 1\n\t# c\nb: 2", "a: 1 \t# c", "- \tx", "a: [1,\t2]", "k\t: v",
        "a: >\n  folded\ttab\n  more\n", "a: &x 1\nb: &x 2\nc: *x\n", "a: &x 1\nb: *x\n", "<<: {a: 1}\nb: 2\n",
        "a: <<\n", "=: 1\n", "a: [<<]\n", "- =\n", "x: &a {k: 1}\ny: {<<: [*a], k: 2}\n", "? |\n  block\tkey\n: v\n",
        "a: 'it''s'\nb: \"\\t\\u00e9\"\n", "\u00e9t\u00e9: \"x\ty\"\n"]

def typed(v):
    if v is None:
        return {"null": True}
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"int": str(v) if -2**63 <= v < 2**63 else "big"}
    if isinstance(v, float):
        return {"float": "nan" if math.isnan(v) else repr(v)}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, (datetime.date, datetime.datetime)):
        return {"ts": True}
    if isinstance(v, list):
        return [typed(x) for x in v]
    if isinstance(v, dict):
        return {"map": [[typed(k), typed(x)] for k, x in v.items()]}
    if isinstance(v, set):
        return {"map": [[typed(k), {"null": True}] for k in v]}
    raise TypeError(type(v))


def ours(path):
    r = subprocess.run([DUMP, path], capture_output=True, text=True, timeout=60)
    if r.returncode == 0:
        return "ok", json.loads(r.stdout)
    return {2: "error", 3: "bound"}.get(r.returncode, "crash %d" % r.returncode), r.stderr.strip()


def theirs(text):
    try:
        return "ok", typed(yaml.safe_load(text))
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as e:
        return "error", str(e).splitlines()[0]


failures, compared, bounded = [], 0, 0
with tempfile.TemporaryDirectory() as tmp:
    docs = [("scalar %r" % s, "v: %s\n" % s) for s in SCALARS] + [("document %r" % d, d) for d in DOCS]
    for name in sorted(os.listdir(CORPUS)):
        with open(os.path.join(CORPUS, name), "rb") as f:
            data = f.read()
        try:
            docs.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            continue
    for name, text in docs:
        path = os.path.join(tmp, "doc")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        a, av = ours(path)
        if a == "bound":
            bounded += 1
            continue
        b, bv = theirs(text)
        compared += 1
        if a.startswith("crash"):
            failures.append(f"{name}: yaml-dump {a}")
        elif a != b:
            failures.append(f"{name}: azl-agent {a} ({av if a == 'error' else '…'}), PyYAML {b} ({bv if b == 'error' else '…'})")
        elif a == "ok" and av != bv:
            failures.append(f"{name}: trees differ:\n    azl-agent {json.dumps(av)[:300]}\n    PyYAML    {json.dumps(bv)[:300]}")

for f in failures:
    print("FAIL:", f, file=sys.stderr)
print(f"{compared} documents compared with PyYAML {yaml.__version__}, {bounded} over azl-agent's bounds, "
      f"{len(failures)} difference(s)")
sys.exit(1 if failures else 0)
