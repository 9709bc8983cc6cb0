#!/usr/bin/python3
"""Integer ops of every width and signedness through `graceful run`, against
ONNX Runtime.

The compiler makes every integer signless (arith has no other), so an op
that compares, divides, extends or converts must read its inputs' sign from
what the model declared: uint8 200 is above 100, int8 -56 is below. Each
case is one node over random values that span the whole range of the type
(its minimum and maximum included); the outputs must equal ONNX Runtime's
exactly (floats to 1e-6 of their scale). Where ONNX Runtime has no kernel
for a type, NumPy (or exact Python integers for Div and Mod) is the
reference, and the summary line says how many.

usage: check_integer_types.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np

from differential import UndefinedInOnnx, finish, onnx_type, run_one_node_cases

SIGNED = [np.int8, np.int16, np.int32, np.int64]
UNSIGNED = [np.uint8, np.uint16, np.uint32, np.uint64]
SHAPE = (3, 16)


def full_range(rng, dtype, shape=SHAPE):
    """Values from the whole range of `dtype`, its limits and 0 among them."""
    limits = np.iinfo(dtype)
    values = rng.integers(limits.min, limits.max, size=shape, dtype=dtype, endpoint=True)
    flat = values.reshape(-1)
    specials = [limits.min, limits.max, 0, 1, limits.max // 2 + 1]
    flat[:len(specials)] = specials[:flat.size]
    return values


def saturated(values, dtype):
    """Floats as `dtype`, truncated, saturated to its range, NaN as 0."""
    limits = np.iinfo(dtype)
    def one(value):
        return 0 if np.isnan(value) else min(max(int(np.trunc(value)), int(limits.min)),
                                             int(limits.max))
    return np.vectorize(one, otypes=[object])(values).astype(dtype)


def exact_integer(op):
    """Div or Mod on exact Python integers, as ONNX defines them."""
    def compute(x, y):
        def one(a, b):
            a, b = int(a), int(b)
            if op == "Div":
                quotient = abs(a) // abs(b)
                return quotient if (a < 0) == (b < 0) else -quotient
            return a % b  # fmod = 0: the divisor's sign, as Python's %
        return np.vectorize(one, otypes=[object])(x, y).astype(x.dtype)
    return compute


def cases(rng):
    """(label, op, attributes, inputs, output dtype and shape, NumPy reference)."""
    for dtype in SIGNED + UNSIGNED:
        name = np.dtype(dtype).name
        x, y = full_range(rng, dtype), full_range(rng, dtype)
        divisor = np.where(y == 0, 1, y).astype(dtype)
        if np.issubdtype(dtype, np.signedinteger):  # MIN / -1 overflows
            divisor = np.where((x == np.iinfo(dtype).min) & (divisor == -1), 3, divisor).astype(dtype)
        rows = (SHAPE[0],)
        yield (f"Max {name}", "Max", {}, [x, y], (dtype, SHAPE), np.maximum)
        yield (f"Min {name}", "Min", {}, [x, y], (dtype, SHAPE), np.minimum)
        yield (f"Less {name}", "Less", {}, [x, y], (np.bool_, SHAPE), np.less)
        yield (f"GreaterOrEqual {name}", "GreaterOrEqual", {}, [x, y], (np.bool_, SHAPE),
               np.greater_equal)
        yield (f"Div {name}", "Div", {}, [x, divisor], (dtype, SHAPE), exact_integer("Div"))
        yield (f"Mod {name}", "Mod", {}, [x, divisor], (dtype, SHAPE), exact_integer("Mod"))
        yield (f"ReduceMax {name}", "ReduceMax", {"axes": [1], "keepdims": 0}, [x],
               (dtype, rows), lambda a: a.max(axis=1))
        yield (f"ReduceMin {name}", "ReduceMin", {"axes": [1], "keepdims": 0}, [x],
               (dtype, rows), lambda a: a.min(axis=1))
        # All below zero (or all high): a reduction started at 0 would win.
        low = (x // 2 - (x // 2).max() - 1).astype(dtype) if np.issubdtype(dtype, np.signedinteger) \
            else (x // 2 + np.iinfo(dtype).max // 2 + 1).astype(dtype)
        yield (f"ReduceMax {name}, all extreme", "ReduceMax", {"axes": [1], "keepdims": 0}, [low],
               (dtype, rows), lambda a: a.max(axis=1))
        yield (f"ArgMax {name}, all extreme", "ArgMax", {"axis": 1, "keepdims": 0}, [low],
               (np.int64, rows), lambda a: a.argmax(axis=1))
        yield (f"ArgMin {name}", "ArgMin", {"axis": 1, "keepdims": 0}, [x], (np.int64, rows),
               lambda a: a.argmin(axis=1))
        yield (f"Clip {name}, unbounded", "Clip", {}, [x], (dtype, SHAPE), lambda a: a)
        limits = np.iinfo(dtype)
        bounds = np.sort(rng.integers(limits.min, limits.max, size=2, dtype=dtype))
        yield (f"Clip {name}, bounded", "Clip", {}, [x, bounds[:1].reshape(()), bounds[1:].reshape(())],
               (dtype, SHAPE), np.clip)
        yield (f"Sign {name}", "Sign", {}, [x], (dtype, SHAPE), lambda a: np.sign(a).astype(dtype))
        yield (f"Abs {name}", "Abs", {}, [x], (dtype, SHAPE), np.abs)
        yield (f"Cast {name} to float32", "Cast", {"to": onnx_type(np.float32)}, [x],
               (np.float32, SHAPE), lambda a: a.astype(np.float32))
        yield (f"Cast {name} to float64", "Cast", {"to": onnx_type(np.float64)}, [x],
               (np.float64, SHAPE), lambda a: a.astype(np.float64))
        for to in SIGNED + UNSIGNED:
            if to != dtype:
                yield (f"Cast {name} to {np.dtype(to).name}", "Cast", {"to": onnx_type(to)}, [x],
                       (to, SHAPE), lambda a, to=to: a.astype(to))
        image = full_range(rng, dtype, (1, 2, 5, 5))
        yield (f"MaxPool {name}, padded", "MaxPool", {"kernel_shape": [2, 2], "pads": [1, 1, 1, 1]},
               [image], (dtype, (1, 2, 6, 6)), None)
        if dtype in UNSIGNED:
            width = np.iinfo(dtype).bits
            amounts = rng.integers(0, width, size=SHAPE).astype(dtype)
            for direction, shift in (("LEFT", np.left_shift), ("RIGHT", np.right_shift)):
                yield (f"BitShift {direction} {name}", "BitShift", {"direction": direction},
                       [x, amounts], (dtype, SHAPE), shift)
    # NaN and values beyond the range are undefined in ONNX (ONNX Runtime
    # wraps them as C++ does); graceful saturates and reads NaN as 0, and is
    # judged by that rule.
    wild = np.array([np.nan, 1e10, -3e9, -0.5, 255.9, 2.0**63, -2.0**63, 7.0] * 6,
                    np.float32).reshape(SHAPE)
    for dtype in SIGNED + UNSIGNED:
        yield (f"Cast float32 to {np.dtype(dtype).name}, NaN and out of range", "Cast",
               {"to": onnx_type(dtype)}, [wild], (dtype, SHAPE),
               UndefinedInOnnx(lambda a, dtype=dtype: saturated(a, dtype)))
    floats = np.linspace(0, 250, num=SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE)
    for dtype in UNSIGNED:
        yield (f"Cast float32 to {np.dtype(dtype).name}", "Cast", {"to": onnx_type(dtype)},
               [floats], (dtype, SHAPE), lambda a, dtype=dtype: a.astype(dtype))
        exponent = (np.arange(SHAPE[0] * SHAPE[1]) % 5).astype(dtype).reshape(SHAPE)
        yield (f"Pow float32 ^ {np.dtype(dtype).name}", "Pow", {}, [floats / 50, exponent],
               (np.float32, SHAPE), lambda a, b: np.power(a, b.astype(np.float32)))


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    # Integers compare exactly whatever the tolerance; floats to 1e-6.
    tally = run_one_node_cases(graceful, work, cases(np.random.default_rng(20261201)), 1e-6,
                               skip_refused=True)
    finish(f"{tally.against_ort + tally.against_numpy} cases checked: {tally.against_ort} against "
           f"ONNX Runtime, {tally.against_numpy} against NumPy (no ONNX Runtime kernel, or a result "
           f"ONNX leaves undefined); "
           f"{tally.not_onnx} skipped (ONNX's schema does not take the type)", tally.failures)


if __name__ == "__main__":
    main()
