#!/usr/bin/python3
"""The NFR gate on precomputed predictions, side by side with NumPy in one
run: 10 million labels and old/new predictions, every gate metric.

usage: nfr_bench.py GRACEFUL_BINARY [SAMPLES]
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy import stats

graceful = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
work = tempfile.mkdtemp(prefix="graceful-nfr-bench-")
random = np.random.default_rng(5)
labels = random.integers(0, 1000, n)
old = np.where(random.random(n) < 0.8, labels, random.integers(0, 1000, n))
new = np.where(random.random(n) < 0.85, labels, random.integers(0, 1000, n))
for name, array in [("y", labels), ("old", old), ("new", new)]:
    np.save(f"{work}/{name}.npy", array.astype(np.int64))
env = dict(os.environ, GRACEFUL_STORE=f"sqlite:{work}/registry.db")
model = f"{root}/examples/classification/models/old.onnx"
with open(model, "rb") as f:
    digest = "sha256:" + hashlib.sha256(f.read()).hexdigest()
with open(f"{work}/policy.yaml", "w") as f:
    f.write("gates:\n  - nfr: {labels: y.npy, old_outputs: old.npy, new_outputs: new.npy, "
            f"confidence: 0.95, max_nfr: 0.05, old_outputs_model: '{digest}', "
            f"new_outputs_model: '{digest}'}}\n")
# The same bytes twice: the gate reads precomputed outputs, not the models.
for args in (["init"], ["register", "m", "--onnx", model],
             ["register", "m", "--onnx", model, "--allow-duplicate"]):
    subprocess.run([graceful, *args], env=env, check=True, capture_output=True)

start = time.perf_counter()
result = subprocess.run([graceful, "gate", "run", "--policy", f"{work}/policy.yaml",
                         "--candidate", "m@2", "--baseline", "m@1", "--json"],
                        env=env, capture_output=True, text=True)
ours = time.perf_counter() - start
if result.returncode not in (0, 1):
    sys.exit(result.stderr)

start = time.perf_counter()
y, o, w = (np.load(f"{work}/{name}.npy") for name in ("y", "old", "new"))
old_right, new_right = o == y, w == y
negative = old_right & ~new_right
b, c = int(negative.sum()), int((~old_right & new_right).sum())
upper = stats.beta.ppf(0.95, b + 1, n - b)
p = stats.binomtest(b, b + c, 0.5).pvalue
per_class = np.bincount(y[negative], minlength=1000) / np.bincount(y, minlength=1000)
flipped = np.nonzero(negative)[0]
theirs = time.perf_counter() - start
print(f"nfr gate on {n:,} precomputed predictions (includes reading 3 .npy files)")
print(f"  graceful gate run (whole CLI run)  {ours:7.2f} s")
print(f"  numpy + scipy                      {theirs:7.2f} s")
print(f"  ratio graceful / numpy             {ours / theirs:7.2f}x   ({b:,} negative flips)")
