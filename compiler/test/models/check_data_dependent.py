#!/usr/bin/python3
"""Models whose shapes depend on the values they compute, run by `graceful
run` in stages, against ONNX Runtime (and torch where torch made the
model): boolean-mask indexing (x[x > 0], torch's NonZero + GatherND),
torch.unique with inverse indices and counts, torchvision's nms, Compress
of a computed condition, NonZero feeding more computation, a Range and a
Reshape whose operands are computed from the input. Each at two inputs, so
the stages are compiled afresh for each. A host kernel's refusal (Unique of
float16) fails with exit 2 and one line naming the node.

usage: check_data_dependent.py GRACEFUL WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
import torchvision
from onnx import TensorProto, helper, numpy_helper

from differential import RunFailed, finish, graceful_outputs, judged, ort_outputs


class Masked(torch.nn.Module):
    def forward(self, x):
        return x[x > 0] * 2


class Uniques(torch.nn.Module):
    def forward(self, x):
        return torch.unique(x, sorted=True, return_inverse=True, return_counts=True)


class Nms(torch.nn.Module):
    def forward(self, boxes, scores):
        return torchvision.ops.nms(boxes, scores, 0.3)


def nms_inputs(rng):
    corners = rng.uniform(0, 10, (20, 2)).astype(np.float32)
    sizes = rng.uniform(1, 4, (20, 2)).astype(np.float32)
    return [np.concatenate([corners, corners + sizes], 1), rng.random(20).astype(np.float32)]


def torch_cases(rng, work):
    """(label, path, [inputs per run], torch module or None)."""
    cases = []
    for name, module, make, opset in (
            ("mask indexing x[x > 0] * 2", Masked(), lambda: [rng.standard_normal((3, 5)).astype(np.float32)], 13),
            ("torch.unique with inverse and counts", Uniques(),
             lambda: [rng.integers(0, 6, (11,)).astype(np.int64)], 11),
            ("torchvision.ops.nms", Nms(), lambda: nms_inputs(rng), 11)):
        path = os.path.join(work, name.split()[0].replace(".", "_") + ".onnx")
        runs = [make(), make()]
        torch.onnx.export(module, tuple(torch.from_numpy(a) for a in runs[0]), path,
                          opset_version=opset, dynamic_axes=None)
        cases.append((name, path, runs, module))
    return cases


def graph_model(path, nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "staged", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def onnx_cases(rng, work):
    float_in = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    out = lambda name, rank, kind=TensorProto.FLOAT: helper.make_tensor_value_info(
        name, kind, [None] * rank)
    cases = []
    # Compress of a computed condition, then more work on its output.
    path = graph_model(os.path.join(work, "compress.onnx"), [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[1], keepdims=0),
        helper.make_node("Greater", ["mean", "zero"], ["keep"]),
        helper.make_node("Compress", ["x", "keep"], ["rows"], axis=0),
        helper.make_node("Relu", ["rows"], ["y"])],
        [float_in("x", [6, 4])], [out("y", 2)],
        [numpy_helper.from_array(np.array(0, np.float32), "zero")])
    cases.append(("Compress of a computed condition, then Relu", path,
                  [[rng.standard_normal((6, 4)).astype(np.float32)] for _ in range(2)], None))
    # NonZero's coordinates feeding arithmetic: their sum per axis.
    path = graph_model(os.path.join(work, "nonzero.onnx"), [
        helper.make_node("Greater", ["x", "zero"], ["positive"]),
        helper.make_node("NonZero", ["positive"], ["where"]),
        helper.make_node("ReduceSum", ["where", "axis1"], ["y"], keepdims=0)],
        [float_in("x", [4, 5])], [out("y", 1, TensorProto.INT64)],
        [numpy_helper.from_array(np.array(0, np.float32), "zero"),
         numpy_helper.from_array(np.array([1], np.int64), "axis1")])
    cases.append(("NonZero then ReduceSum", path,
                  [[rng.standard_normal((4, 5)).astype(np.float32)] for _ in range(2)], None))
    # Range(0, n) with n computed from the input; Reshape to a computed shape.
    path = graph_model(os.path.join(work, "range.onnx"), [
        helper.make_node("ReduceSum", ["counts"], ["total"], keepdims=0),
        helper.make_node("Range", ["start", "total", "step"], ["y"]),
        helper.make_node("Reshape", ["grid", "counts"], ["z"])],
        [helper.make_tensor_value_info("counts", TensorProto.INT64, [2]),
         float_in("grid", [12])], [out("y", 1, TensorProto.INT64), out("z", 2)],
        [numpy_helper.from_array(np.array(0, np.int64), "start"),
         numpy_helper.from_array(np.array(1, np.int64), "step")])
    cases.append(("Range and Reshape of computed operands", path,
                  [[np.array([3, 4], np.int64), rng.standard_normal(12).astype(np.float32)],
                   [np.array([2, 6], np.int64), rng.standard_normal(12).astype(np.float32)]], None))
    return cases


def check_refusal(graceful, work):
    path = graph_model(os.path.join(work, "unique-half.onnx"),
                       [helper.make_node("Unique", ["x"], ["y"], name="halves")],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [5])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [None])])
    np.save(os.path.join(work, "half.npy"), np.array([1, 2, 2, 3, 1], np.float16))
    run = subprocess.run([graceful, "run", path, "--input", os.path.join(work, "half.npy"),
                          "--output", os.path.join(work, "half-out.npy")],
                         capture_output=True, text=True, env=dict(os.environ, GRACEFUL_CACHE="off"))
    lines = run.stderr.strip().splitlines()
    ok = run.returncode == 2 and len(lines) == 1 and "node 'halves' (Unique)" in lines[0]
    print(f"{'ok  ' if ok else 'FAIL'} Unique of float16 is refused, naming the node", flush=True)
    return [] if ok else [f"Unique of float16: exit {run.returncode}: {run.stderr.strip()}"]


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261201)
    failures, count = [], 0
    for label, path, runs, module in torch_cases(rng, work) + onnx_cases(rng, work):
        for run, inputs in enumerate(runs):
            count += 1
            name = f"{label} (input {run + 1})"
            try:
                ours = graceful_outputs(graceful, path, inputs, len(onnx.load(path).graph.output))
                references = {"ONNX Runtime": ort_outputs(path, inputs)}
            except RunFailed as error:
                failures.append(f"{name}: {error}")
                continue
            if module is not None:
                expected = module(*(torch.from_numpy(a) for a in inputs))
                expected = expected if isinstance(expected, tuple) else (expected,)
                references["torch"] = [t.numpy() for t in expected]
            failures += judged(name, ours, references)
    failures += check_refusal(graceful, work)
    finish(f"{count} runs of data-dependent models checked against ONNX Runtime (and torch)",
           failures)


if __name__ == "__main__":
    main()
