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

from differential import (RunFailed, disagreement, graceful_outputs, onnx_type, ort_outputs,
                          save_one_node_model)

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
    rng = np.random.default_rng(20261201)
    failures, by_reference = [], {"ONNX Runtime": 0, "NumPy": 0}
    for index, (label, op, attributes, inputs, (out_dtype, out_shape), reference) in \
            enumerate(cases(rng)):
        path = os.path.join(work, f"case{index}.onnx")
        names = ["x", "y", "z"][:len(inputs)]
        if not save_one_node_model(path, op, [(n, a.dtype, a.shape) for n, a in zip(names, inputs)],
                                   [("out", out_dtype, out_shape)], **attributes):
            failures.append(f"{label}: ONNX's checker refuses the model")
            continue
        try:
            expected, judge = ort_outputs(path, inputs)[0], "ONNX Runtime"
        except RunFailed as error:
            if "Could not find an implementation" not in str(error):
                failures.append(f"{label}: {error}")
                continue
            with np.errstate(all="ignore"):
                expected, judge = np.asarray(reference(*inputs)), "NumPy"
        try:
            ours = graceful_outputs(graceful, path, inputs, 1)[0]
        except RunFailed as error:
            failures.append(f"{label}: {error}")
            continue
        wrong, error = disagreement(ours, expected, tolerance=ULP)
        by_reference[judge] += 1
        if wrong:
            failures.append(f"{label}: {wrong} from {judge}'s")
        print(f"{'FAIL' if wrong else 'ok  '} {label} (against {judge}, error {error:.1e})",
              flush=True)
    print(f"{sum(by_reference.values())} cases checked: {by_reference['ONNX Runtime']} against "
          f"ONNX Runtime, {by_reference['NumPy']} against NumPy (no float16 kernel)")
    if failures:
        print("\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
