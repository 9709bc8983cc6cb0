#!/usr/bin/python3
"""Runs the README's main job (scripts/demo) with a given graceful binary
and checks its outcomes, so the examples cannot rot: which promotions pass
and which are refused, the reasons printed, the reports written.

usage: check_demo.py GRACEFUL_BINARY
"""
import os
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
work = tempfile.mkdtemp(prefix="graceful-demo-check-")
env = dict(os.environ, GRACEFUL_BINARY=sys.argv[1], GRACEFUL_DEMO_DIR=work)
result = subprocess.run([f"{root}/scripts/demo"], env=env, capture_output=True, text=True)
output = result.stdout
if result.returncode != 0:
    sys.exit(f"scripts/demo exited {result.returncode}\n{output[-3000:]}\n{result.stderr[-2000:]}")

expected = {
    "digits@1": "promoted", "digits@2": "refused", "digits@3": "promoted",
    "faces@1": "promoted", "faces@2": "refused", "faces@3": "promoted", "faces@4": "passed",
    "faces-edge@1": "refused", "faces-edge@2": "promoted", "faces-edge@3": "promoted",
}
summary = output[output.index("== summary"):]
problems = []
for candidate, outcome in expected.items():
    line = next((l for l in summary.splitlines() if l.startswith(candidate + " ")), "")
    if outcome not in line.split():
        problems.append(f"{candidate}: expected {outcome}, summary says '{line.strip()}'")
for reason in ["exceeds max_nfr",
               "op HardSwish (1 node) is not among the device's allowed ops",
               "embedding dimensions differ: faces@2 embeds into 64 dimensions",
               "fitted a linear map 64 -> 16 dims",
               "graceful-legalize: rewrote HardSwish x1",
               "graceful-linearize: 1 Relu -> LeakyRelu",
               "digits@4\n  <- digits@1 (rewritten-from)",
               "rolled back digits@production: v3 -> v1", "ok: 3 models",
               # What the gates compared: the holder (nfr), or only the
               # edge gate's reference, never a holder no gate ran.
               "gates pass for digits@3 against digits@1 (policy",
               "gates pass for faces-edge@3 against faces@1 (no gate compared it with the "
               "baseline faces-edge@2)"]:
    if reason not in output:
        problems.append(f"the demo does not print '{reason}'")
for report in ["digits-v2.html", "faces-v3.md", "edge-v2.xml"]:
    if not os.path.getsize(f"{work}/reports/{report}"):
        problems.append(f"report {report} is empty")
if "against faces-edge@2" in output:
    problems.append("the demo says an edge model was compared with the edge holder")
if problems:
    sys.exit("\n".join(problems))
print(f"demo outcomes as expected ({work})")
