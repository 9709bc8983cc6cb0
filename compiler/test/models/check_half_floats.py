#!/usr/bin/python3
"""float16 models through `graceful run`, against ONNX Runtime.

The compiler computes half precision in float32 and rounds each op's
result to float16, as ONNX Runtime's CPU kernels and NumPy do. Each case is
one node over float16 inputs made by NumPy (normal values, subnormals,
values that overflow float16 when multiplied, NaN and infinities); the
outputs must agree with ONNX Runtime's within one float16 ulp of the
output's scale (2^-10), NaN and infinities in the same places. Where ONNX
Runtime has no float16 kernel, NumPy computing in float16 is the reference,
and the summary line says how many.

usage: check_half_floats.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np

from differential import finish, onnx_type, run_one_node_cases

F16 = np.float16
SHAPE = (4, 8)
ULP = 2.0 ** -10


def inputs_for(rng, shape=SHAPE):
    x = (rng.standard_normal(shape) * 4).astype(F16)
    flat = x.reshape(-1)
    flat[:6] = [np.nan, np.inf, -np.inf, 6e-8, -3e-5, 300.0]  # 6e-8: a subnormal
    return x


def softmax(x):
    wide = x.astype(np.float32)
    shifted = np.exp(wide - wide.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(F16)


def cases(rng):
    """(label, op, attributes, inputs, output dtype and shape, NumPy reference)."""
    x, y = inputs_for(rng), inputs_for(rng)
    big = np.full(SHAPE, 300.0, F16)  # 300 * 300 overflows float16's 65504
    yield "Add", "Add", {}, [x, y], (F16, SHAPE), np.add
    yield "Mul, overflowing", "Mul", {}, [x, big], (F16, SHAPE), np.multiply
    yield "Div", "Div", {}, [x, y], (F16, SHAPE), np.divide
    yield "Max", "Max", {}, [x, y], (F16, SHAPE), np.maximum
    yield "Relu", "Relu", {}, [x], (F16, SHAPE), lambda a: np.where(a < 0, F16(0), a)
    yield "Exp", "Exp", {}, [x], (F16, SHAPE), np.exp
    yield "Sigmoid", "Sigmoid", {}, [x], (F16, SHAPE), \
        lambda a: (1 / (1 + np.exp(-a.astype(np.float32)))).astype(F16)
    yield "Softmax", "Softmax", {"axis": -1}, [np.nan_to_num(x, posinf=9, neginf=-9)], \
        (F16, SHAPE), softmax
    weights = (rng.standard_normal((SHAPE[1], 5)) / 3).astype(F16)
    yield "MatMul", "MatMul", {}, [np.nan_to_num(x, posinf=9, neginf=-9), weights], \
        (F16, (SHAPE[0], 5)), \
        lambda a, b: (a.astype(np.float32) @ b.astype(np.float32)).astype(F16)
    yield "ReduceMean", "ReduceMean", {"axes": [1], "keepdims": 0}, [x], (F16, (SHAPE[0],)), \
        lambda a: a.astype(np.float32).mean(axis=1).astype(F16)
    yield "Cast to float32", "Cast", {"to": onnx_type(np.float32)}, [x], (np.float32, SHAPE), \
        lambda a: a.astype(np.float32)
    wide = (rng.standard_normal(SHAPE) * 1e3).astype(np.float32)
    wide.reshape(-1)[:3] = [70000.0, 1e-9, np.nan]  # beyond float16, below its subnormals
    yield "Cast from float32", "Cast", {"to": onnx_type(F16)}, [wide], (F16, SHAPE), \
        lambda a: a.astype(F16)
    yield "Where", "Where", {}, [x > y, x, y], (F16, SHAPE), np.where


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    tally = run_one_node_cases(graceful, work, cases(np.random.default_rng(20261201)), ULP)
    finish(f"{tally.against_ort + tally.against_numpy} cases checked: {tally.against_ort} against "
           f"ONNX Runtime, {tally.against_numpy} against NumPy (no float16 kernel)", tally.failures)


if __name__ == "__main__":
    main()
