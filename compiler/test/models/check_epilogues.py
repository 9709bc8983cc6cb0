#!/usr/bin/python3
"""Kernels with fused epilogues through `graceful run`, against torch:
Conv (strided, dilated, asymmetrically padded: the runtime gathers its
patches), depthwise Conv, MatMul and Gemm followed by Relu, Clip and
residual Adds (also onto a bias), the shapes the JIT turns into one runtime call that starts
from the Add's other input and clamps, at batch 3 and batch 1. The first sample holds a NaN and infinities,
which must come out where torch puts them (Relu and Clip keep NaN).

usage: check_epilogues.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from graceful_run import run_model

F = torch.nn.functional
C = 8  # channels


def conv_clip(rng):
    w = rng.standard_normal((C, C, 1, 1)).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]),
             helper.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    weights = {"w": w, "b": b, "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    return nodes, weights, lambda x: F.conv2d(x, torch.from_numpy(w), torch.from_numpy(b)).clamp(0, 6)


def depthwise_relu_depthwise(rng):
    w1 = rng.standard_normal((C, 1, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((C, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    conv = dict(group=C, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [helper.make_node("Conv", ["x", "w1", "b"], ["c1"], **conv),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], **conv),
             helper.make_node("Clip", ["c2", "lo"], ["y"])]
    weights = {"w1": w1, "w2": w2, "b": b, "lo": np.array(-0.5, np.float32)}

    def reference(x):
        r1 = F.relu(F.conv2d(x, torch.from_numpy(w1), torch.from_numpy(b), padding=1, groups=C))
        return F.conv2d(r1, torch.from_numpy(w2), padding=1, groups=C).clamp(min=-0.5)
    return nodes, weights, reference


def residual_relu(rng):
    w = rng.standard_normal((C, C, 3, 3)).astype(np.float32) * 0.2
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "x"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    return nodes, {"w": w}, lambda x: F.relu(F.conv2d(x, torch.from_numpy(w), padding=1) + x)


def residual_bias_relu(rng):
    w = rng.standard_normal((C, C, 3, 3)).astype(np.float32) * 0.2
    b = rng.standard_normal(C).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["x", "c"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    return nodes, {"w": w, "b": b}, lambda x: F.relu(
        x + F.conv2d(x, torch.from_numpy(w), torch.from_numpy(b), padding=1))


def matmul_relu_gemm_clip(rng):
    a = rng.standard_normal((C * 4, 16)).astype(np.float32)
    g = rng.standard_normal((16, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("MatMul", ["f", "a"], ["m"]),
             helper.make_node("Relu", ["m"], ["r"]),
             helper.make_node("Gemm", ["r", "g", "b"], ["gm"]),
             helper.make_node("Clip", ["gm", "lo", "hi"], ["y"])]
    weights = {"a": a, "g": g, "b": b, "lo": np.array(-1, np.float32),
               "hi": np.array(1, np.float32)}

    def reference(x):
        r = F.relu(x.flatten(1) @ torch.from_numpy(a))
        return (r @ torch.from_numpy(g) + torch.from_numpy(b)).clamp(-1, 1)
    return nodes, weights, reference


def strided_dilated_conv_relu(rng):
    w = rng.standard_normal((C, C, 3, 3)).astype(np.float32) * 0.2
    b = rng.standard_normal(C).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3],
                              strides=[2, 1], dilations=[2, 2], pads=[1, 2, 0, 1]),
             helper.make_node("Relu", ["c"], ["y"])]

    def reference(x):
        padded = F.pad(x, (2, 1, 1, 0))
        return F.relu(F.conv2d(padded, torch.from_numpy(w), torch.from_numpy(b), stride=(2, 1),
                               dilation=2))
    return nodes, {"w": w, "b": b}, reference


CASES = [conv_clip, depthwise_relu_depthwise, residual_relu, matmul_relu_gemm_clip,
         strided_dilated_conv_relu, residual_bias_relu]
# A batch of one runs through other code (BLAS's own threads): both are checked.
BATCHES = [3, 1]


def write_model(path, nodes, weights, x_shape, y_shape):
    graph = helper.make_graph(
        nodes, "epilogue",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"] + list(x_shape[1:]))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"] + list(y_shape[1:]))],
        [numpy_helper.from_array(value, name) for name, value in weights.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def check(graceful, work_dir, index, case, batch):
    rng = np.random.default_rng(index)
    x_shape = (batch, C, 2, 2) if case is matmul_relu_gemm_clip else (batch, C, 9, 11)
    x = rng.standard_normal(x_shape).astype(np.float32)
    first = x[0].reshape(-1)  # a view: the other samples stay finite
    first[rng.choice(first.size, 3, replace=False)] = [np.nan, np.inf, -np.inf]
    nodes, weights, reference = case(rng)
    base = f"{work_dir}/epilogue{index}-{batch}"
    expected = reference(torch.from_numpy(x)).numpy()
    write_model(base + ".onnx", nodes, weights, x_shape, expected.shape)
    np.save(base + ".input.npy", x)
    ours, failure = run_model(graceful, base, expected.shape)
    if failure:
        return failure
    nan = np.isnan(expected)
    if not nan.any() or not np.array_equal(np.isnan(ours), nan):
        return f"FAILED: NaN at {np.isnan(ours).sum()} places, torch {nan.sum()}"
    if not np.array_equal(ours[np.isinf(ours)], expected[np.isinf(ours)]):
        return "FAILED: infinities differ"
    finite = np.isfinite(expected)
    error = float(np.abs(ours[finite] - expected[finite]).max(initial=0.0))
    return f"{'ok' if error < 1e-4 else 'FAILED'} (max error {error:.1e}, {nan.sum()} NaN kept)"


def main(graceful, work_dir):
    os.makedirs(work_dir, exist_ok=True)
    failed = 0
    for index, case in enumerate(CASES):
        for batch in BATCHES:
            verdict = check(graceful, work_dir, index, case, batch)
            print(f"{case.__name__}, batch {batch}: {verdict}")
            failed += not verdict.startswith("ok")
    print(f"{len(CASES) * len(BATCHES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
