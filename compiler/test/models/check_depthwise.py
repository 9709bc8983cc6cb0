#!/usr/bin/python3
"""Depthwise convolutions through `graceful run`, against torch: the
runtime kernel's unrolled loops (3x3 and 5x5 at strides 1 and 2), its
general path (other kernels, strides, dilations) and zero padding of every
shape, symmetric or not, which the JIT folds into the kernel.

usage: check_depthwise.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from graceful_run import run_model

CHANNELS = 6
# (kernel, stride, dilation, pads as ONNX orders them: top, left, bottom, right; input size)
CASES = [
    (3, 1, 1, (1, 1, 1, 1), 17), (3, 2, 1, (1, 1, 1, 1), 17), (5, 1, 1, (2, 2, 2, 2), 9),
    (5, 2, 1, (2, 2, 2, 2), 33), (3, 1, 2, (2, 2, 2, 2), 12), (2, 3, 1, (0, 0, 0, 0), 11),
    (7, 1, 1, (3, 3, 3, 3), 8), (3, 2, 1, (0, 0, 1, 1), 16), (1, 1, 1, (0, 0, 0, 0), 5),
    (3, 1, 1, (4, 4, 4, 4), 3), (3, 3, 3, (1, 2, 3, 0), 20), (5, 2, 1, (1, 2, 2, 1), 14),
]


def write_model(path, kernel, stride, dilation, pads, weights, bias):
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=CHANNELS,
                            kernel_shape=[kernel, kernel], strides=[stride, stride],
                            dilations=[dilation, dilation], pads=list(pads))
    graph = helper.make_graph(
        [conv], "depthwise",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", CHANNELS, None, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", CHANNELS, None, None])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def check(graceful, work_dir, index, case):
    kernel, stride, dilation, (top, left, bottom, right), size = case
    rng = np.random.default_rng(index)
    weights = rng.standard_normal((CHANNELS, 1, kernel, kernel)).astype(np.float32)
    bias = rng.standard_normal(CHANNELS).astype(np.float32)
    x = rng.standard_normal((3, CHANNELS, size, size + 5)).astype(np.float32)
    base = f"{work_dir}/depthwise{index}"
    write_model(base + ".onnx", kernel, stride, dilation, (top, left, bottom, right), weights,
                bias)
    np.save(base + ".input.npy", x)
    padded = torch.nn.functional.pad(torch.from_numpy(x), (left, right, top, bottom))
    expected = torch.nn.functional.conv2d(padded, torch.from_numpy(weights),
                                          torch.from_numpy(bias), stride=stride,
                                          dilation=dilation, groups=CHANNELS).numpy()
    ours, failure = run_model(graceful, base, expected.shape)
    if failure:
        return failure
    error = float(np.abs(ours - expected).max())
    return f"{'ok' if error < 1e-4 else 'FAILED'} (max error {error:.1e})"


def main(graceful, work_dir):
    os.makedirs(work_dir, exist_ok=True)
    failed = 0
    for index, case in enumerate(CASES):
        verdict = check(graceful, work_dir, index, case)
        print(f"kernel {case[0]} stride {case[1]} dilation {case[2]} pads {case[3]} "
              f"size {case[4]}: {verdict}")
        failed += not verdict.startswith("ok")
    print(f"{len(CASES) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
