#!/usr/bin/python3
"""Rewritten and re-exported models, executed by ONNX Runtime and by
graceful's JIT, against the outputs torch computed at export time.

- fold-bn on ResNet-18 (BatchNorm kept at export): graceful rewrite checks
  the folded model against the original itself; ONNX Runtime must agree.
- legalize MobileNetV3-small for a profile without Gemm and Flatten.
- linearize ResNet-18: ONNX Runtime and the JIT must agree on the
  linearized model (the outputs move from torch's on purpose).
- import -> export -> import round trips of both models give torch's
  outputs.

usage: check_rewrites.py GRACEFUL TRANSLATE EXPORT_SCRIPT WORK_DIR
"""
import json
import os
import subprocess
import sys

import numpy as np

from differential import RunFailed, ort_outputs

graceful, translate, export_script, work = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
failures = []


def run(*args):
    result = subprocess.run(list(args), capture_output=True, text=True)
    if result.returncode not in (0, 1):
        sys.exit(f"{' '.join(args)}: exit {result.returncode}: {result.stderr.strip()}")
    return result


def onnxruntime(model, inputs):
    try:
        return ort_outputs(model, [inputs.astype(np.float32)])[0]
    except RunFailed as error:
        failures.append(f"ONNX Runtime refused {model}: {error}")
        return None


def ours(model, inputs_path):
    out = f"{work}/ours.npy"
    run(graceful, "run", model, "--input", inputs_path, "--output", out)
    return np.load(out)


def close(what, a, b, tolerance=1e-3):
    if a is None or b is None:
        return
    scale = max(float(np.abs(b).max()), 1e-30)
    error = float(np.abs(a - b).max()) / scale
    ok = a.shape == b.shape and error < tolerance
    print(f"{what}: {'ok' if ok else 'FAILED'} (max error {error:.2e} of scale {scale:.2e})")
    if not ok:
        failures.append(what)


def export(name):
    run("/usr/bin/python3", export_script, name, work, "--batch", "2")
    base = f"{work}/{name}"
    return base, np.load(base + ".input.npy"), np.load(base + ".output.npy")


def main():
    os.makedirs(work, exist_ok=True)
    base, x, torch_out = export("resnet18")
    folded = f"{work}/resnet18.folded.onnx"
    result = run(graceful, "rewrite", base + ".onnx", "--out", folded, "--fold-bn",
                 "--inputs", base + ".input.npy", "--json")
    report = json.loads(result.stdout)
    print(f"resnet18 fold-bn: {report['remarks'][0]}; relative change "
          f"{report['max_relative_deviation']:.2e}")
    close("resnet18 fold-bn in ONNX Runtime vs torch", onnxruntime(folded, x), torch_out)
    close("resnet18 fold-bn in graceful vs torch", ours(folded, base + ".input.npy"), torch_out)

    linear = f"{work}/resnet18.linear.onnx"
    run(graceful, "rewrite", base + ".onnx", "--out", linear, "--linearize=0.05",
        "--inputs", base + ".input.npy")
    close("resnet18 linearized: ONNX Runtime vs graceful", onnxruntime(linear, x),
          ours(linear, base + ".input.npy"))

    round_trip(base, torch_out)
    base, x, torch_out = export("mobilenet_v3_small")
    inspection = json.loads(run(graceful, "inspect", base + ".onnx", "--json").stdout)
    refused = {"Gemm", "Flatten"}
    if not refused <= set(inspection["ops"]):
        failures.append(f"the export has no Gemm and Flatten to legalize: {inspection['ops']}")
    allowed = sorted((set(inspection["ops"]) - refused) |
                     {"MatMul", "Add", "Mul", "Transpose", "Reshape"})
    with open(f"{work}/no-gemm.yaml", "w") as f:
        f.write(f"name: no-gemm\nallowed_ops: [{', '.join(allowed)}]\n")
    legal = f"{work}/mobilenet_v3_small.legal.onnx"
    result = run(graceful, "rewrite", base + ".onnx", "--out", legal, "--legalize",
                 f"{work}/no-gemm.yaml", "--inputs", base + ".input.npy", "--json")
    print(f"mobilenet_v3_small legalize: {json.loads(result.stdout)['remarks'][0]}")
    after = json.loads(run(graceful, "inspect", legal, "--json").stdout)
    if refused & set(after["ops"]):
        failures.append(f"legalization left {refused & set(after['ops'])}")
    close("mobilenet_v3_small legalized in ONNX Runtime vs torch", onnxruntime(legal, x), torch_out)
    round_trip(base, torch_out)
    if failures:
        sys.exit("FAILED:\n" + "\n".join(failures))
    print("all rewritten and exported models agree")


def round_trip(base, torch_out):
    mlir, exported = base + ".mlir", base + ".roundtrip.onnx"
    run(translate, "--import-onnx", base + ".onnx", "-o", mlir)
    run(translate, "--export-onnx", mlir, "-o", exported)
    name = os.path.basename(base)
    close(f"{name} import/export round trip in graceful vs torch",
          ours(exported, base + ".input.npy"), torch_out)


main()
