#!/usr/bin/python3
"""Batched products that reach the compiler as generics (graceful-
contraction-to-blas turns them into one sgemm per batch index), through
`graceful run`, against ONNX Runtime and float64 NumPy: attention as torch
exports it (head splits and transposes folded into the products' indexing
maps, scaled queries, softmax's division by its row sums), Einsum
contractions with the batch on one side only, MatMul broadcasting its batch
dims, a product of a tensor with its own transpose, and NaN and infinities
in the inputs, which must come out where ONNX Runtime puts them.

usage: check_contractions.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from differential import RunFailed, disagreement, finish, graceful_outputs, ort_outputs


def value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def model(nodes, inputs, output_shape, initializers=()):
    graph = helper.make_graph(nodes, "contraction", [value(n, s) for n, s in inputs],
                              [value("y", output_shape)], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def attention(tokens, batch, heads, width):
    """torch's layout: q, k, v [tokens, batch * heads, width]; softmax
    decomposed as torch exports it at opset 13 (Exp, ReduceSum, Div)."""
    shape = [tokens, batch * heads, width]
    scale = numpy_helper.from_array(np.float32(np.sqrt(width)), "scale")
    axes = numpy_helper.from_array(np.array([-1], np.int64), "axes")
    nodes = [
        helper.make_node("Transpose", ["q"], ["qt"], perm=[1, 0, 2]),
        helper.make_node("Div", ["qt", "scale"], ["qs"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[1, 2, 0]),
        helper.make_node("MatMul", ["qs", "kt"], ["scores"]),
        helper.make_node("ReduceMax", ["scores"], ["top"], axes=[-1], keepdims=1),
        helper.make_node("Sub", ["scores", "top"], ["shifted"]),
        helper.make_node("Exp", ["shifted"], ["e"]),
        helper.make_node("ReduceSum", ["e", "axes"], ["total"], keepdims=1),
        helper.make_node("Div", ["e", "total"], ["p"]),
        helper.make_node("Transpose", ["v"], ["vt"], perm=[1, 0, 2]),
        helper.make_node("MatMul", ["p", "vt"], ["o"]),
        helper.make_node("Transpose", ["o"], ["y"], perm=[1, 0, 2]),
    ]
    onnx_model = model(nodes, [("q", shape), ("k", shape), ("v", shape)], shape, [scale, axes])

    def reference(q, k, v):
        q, k, v = (a.astype(np.float64).transpose(1, 0, 2) for a in (q, k, v))
        s = q / np.sqrt(width) @ k.transpose(0, 2, 1)
        e = np.exp(s - s.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True) @ v).transpose(1, 0, 2)

    return onnx_model, [shape] * 3, reference


def einsum(equation, shapes):
    names = [f"x{i}" for i in range(len(shapes))]
    out = np.einsum(equation, *[np.zeros(s) for s in shapes]).shape
    nodes = [helper.make_node("Einsum", names, ["y"], equation=equation)]
    onnx_model = model(nodes, list(zip(names, shapes)), list(out))
    return onnx_model, shapes, lambda *a: np.einsum(equation, *[x.astype(np.float64) for x in a])


def matmul(a_shape, b_shape, transpose_a=None, transpose_b=None):
    """MatMul of two inputs, each optionally transposed first by `perm`."""
    nodes, names = [], []
    for name, perm in (("a", transpose_a), ("b", transpose_b)):
        if perm is None:
            names.append(name)
        else:
            nodes.append(helper.make_node("Transpose", [name], [name + "t"], perm=perm))
            names.append(name + "t")
    nodes.append(helper.make_node("MatMul", names, ["y"]))

    def reference(a, b):
        a, b = a.astype(np.float64), b.astype(np.float64)
        a = a if transpose_a is None else a.transpose(transpose_a)
        b = b if transpose_b is None else b.transpose(transpose_b)
        return a @ b

    out = reference(np.zeros(a_shape), np.zeros(b_shape)).shape
    return model(nodes, [("a", a_shape), ("b", b_shape)], list(out)), [a_shape, b_shape], reference


def self_product(shape):
    """x @ x^T over the last two dims: both factors read one buffer."""
    perm = list(range(len(shape) - 2)) + [len(shape) - 1, len(shape) - 2]
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=perm),
             helper.make_node("MatMul", ["x", "xt"], ["y"])]
    out = list(shape[:-1]) + [shape[-2]]

    def reference(x):
        x = x.astype(np.float64)
        return x @ np.swapaxes(x, -1, -2)

    return model(nodes, [("x", shape)], out), [shape], reference


CASES = {
    "attention 16 tokens, 2x4 heads of 16": attention(16, 2, 4, 16),
    "attention 37 tokens, 1x3 heads of 8": attention(37, 1, 3, 8),
    "attention 224 tokens, 1x4 heads of 16": attention(224, 1, 4, 16),
    "einsum bhid,bhjd->bhij": einsum("bhid,bhjd->bhij", [(2, 3, 5, 7), (2, 3, 6, 7)]),
    "einsum bhij,bhjd->bhid": einsum("bhij,bhjd->bhid", [(2, 3, 5, 6), (2, 3, 6, 7)]),
    "einsum bij,jk->bik (weights shared)": einsum("bij,jk->bik", [(4, 5, 6), (6, 3)]),
    "einsum ij,bjk->bik (left shared)": einsum("ij,bjk->bik", [(5, 6), (4, 6, 3)]),
    "einsum bji,bjk->bik (left transposed)": einsum("bji,bjk->bik", [(3, 6, 5), (3, 6, 4)]),
    "einsum ibj,bkj->bik (y transposed)": einsum("ibj,bkj->bik", [(5, 3, 6), (3, 4, 6)]),
    "matmul broadcast [2,1,4,5] x [3,5,6]": matmul((2, 1, 4, 5), (3, 5, 6)),
    "matmul transposed both [3,6,4]^T x [3,5,6]^T": matmul((3, 6, 4), (3, 5, 6), [0, 2, 1],
                                                           [0, 2, 1]),
    "matmul heads [5,2,8] x [5,2,8] -> [2,5,5]": matmul((5, 2, 8), (5, 2, 8), [1, 0, 2],
                                                        [1, 2, 0]),
    "x @ x^T [3,7,9]": self_product((3, 7, 9)),
    "empty sum: einsum bik,bkj->bij, k = 0": einsum("bik,bkj->bij", [(2, 3, 0), (2, 0, 4)]),
}


def special_values(arrays, rng):
    """A NaN, an infinity and a -infinity in the first input."""
    first = arrays[0].copy()
    flat = first.reshape(-1)
    if flat.size >= 3:
        for position, special in zip(rng.choice(flat.size, 3, replace=False),
                                     (np.nan, np.inf, -np.inf)):
            flat[position] = special
    return [first] + arrays[1:]


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(11)
    failures, count = [], 0
    for index, (label, (onnx_model, shapes, reference)) in enumerate(CASES.items()):
        path = os.path.join(work, f"contraction{index}.onnx")
        onnx.save(onnx_model, path)
        inputs = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
        runs = [(label, inputs, True)]
        if not label.startswith("attention") and not label.startswith("empty"):
            runs.append((label + " with NaN and infinities", special_values(inputs, rng), False))
        for run_label, run_inputs, with_float64 in runs:
            count += 1
            try:
                ours = graceful_outputs(graceful, path, run_inputs, 1)[0]
                judges = {"ONNX Runtime": ort_outputs(path, run_inputs)[0]}
            except RunFailed as error:
                print(f"FAIL {run_label}", flush=True)
                failures.append(f"{run_label}: {error}")
                continue
            if with_float64:
                judges["float64"] = reference(*run_inputs).astype(np.float32)
            wrong = [f"{run_label}: {judge}: {why}" for judge, theirs in judges.items()
                     for why in [disagreement(ours, theirs)[0]] if why]
            worst = max(disagreement(ours, theirs)[1] for theirs in judges.values())
            print(f"{'FAIL' if wrong else 'ok  '} {run_label} (error {worst:.1e} of scale)",
                  flush=True)
            failures += wrong
    finish(f"{count - len(failures)} of {count} contraction runs agree", failures)


if __name__ == "__main__":
    main()
