#!/usr/bin/python3
"""Random-graph differential fuzzer: small random ONNX graphs built from the
ops the compiler lowers, run by `graceful run` and by ONNX Runtime on the
same inputs (differential.py says what "agree" means).

Graphs mix random shapes, broadcasting and attributes (strides, pads,
dilations, groups, axes) with the chains the fusion passes rewrite: a
convolution or product, a bias, a BatchNorm, a residual Add and a Clip or
Relu whose bounds come from initializers, from Constant nodes or are left
out; and batched products (Einsum over any axes, operands and output in any
order, weights shared across the batch or not, the first factor scaled or
normalised by its sums) that reach the compiler as generic contractions. A graph that disagrees is shrunk to its shortest failing prefix (the
first value that disagrees, with only the nodes it depends on) and saved
to --save DIR, where `--regressions DIR` replays it in the test suite.

usage: fuzz_graphs.py GRACEFUL WORK_DIR [--seeds FIRST:COUNT] [--save DIR]
       fuzz_graphs.py GRACEFUL WORK_DIR --regressions DIR
Exit status 1 when any graph disagrees or fails on our side.
"""
import argparse
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from differential import RunFailed, disagreement, graceful_outputs, ort_outputs

OPSET = 14


class Graph:
    """A graph under construction: nodes, initializers and the float values
    available as operands, with their shapes."""

    def __init__(self, rng, input_shape):
        self.rng = rng
        self.nodes, self.initializers = [], []
        self.values = [("x", list(input_shape))]
        self.counter = 0

    def name(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, array, prefix="w"):
        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def constant_node(self, array):
        """A value from a Constant node rather than an initializer."""
        name = self.name("k")
        self.nodes.append(helper.make_node(
            "Constant", [], [name], value=numpy_helper.from_array(np.asarray(array, np.float32))))
        return name

    def random(self, shape, low=-1.0, high=1.0):
        return self.rng.uniform(low, high, shape).astype(np.float32)

    def add(self, op, inputs, shape, **attributes):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attributes))
        self.values.append((out, list(shape)))
        return out, list(shape)

    def pick(self, rank=None, prefer_last=True):
        """A value to operate on: the last one usually, else any (of `rank`)."""
        candidates = [v for v in self.values if rank is None or len(v[1]) == rank]
        if not candidates:
            return None
        if prefer_last and self.rng.random() < 0.7:
            return candidates[-1]
        return candidates[self.rng.integers(len(candidates))]

    def same_shape(self, shape, exclude):
        return [v for v in self.values if v[1] == shape and v[0] != exclude]


def conv_output(size, kernel, stride, dilation, pad_total):
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def add_conv(g, value, depthwise=None):
    name, (n, c, h, w) = value
    rng = g.rng
    if depthwise is None:
        depthwise = rng.random() < 0.4
    if depthwise:
        groups, out_channels = c, c * int(rng.choice([1, 1, 1, 2]))
    else:
        divisors = [d for d in range(1, c + 1) if c % d == 0]
        groups = int(rng.choice(divisors)) if rng.random() < 0.3 else 1
        out_channels = groups * int(rng.integers(1, 5))
    for _ in range(20):
        kernel = [int(rng.choice([1, 2, 3, 3, 3, 5])) for _ in range(2)]
        stride = [int(rng.choice([1, 1, 2, 3])) for _ in range(2)]
        dilation = [int(rng.choice([1, 1, 1, 2])) for _ in range(2)]
        pads = [int(rng.integers(0, 3)) for _ in range(4)]
        out_h = conv_output(h, kernel[0], stride[0], dilation[0], pads[0] + pads[2])
        out_w = conv_output(w, kernel[1], stride[1], dilation[1], pads[1] + pads[3])
        if out_h >= 1 and out_w >= 1 and all(p < dilation[i % 2] * (kernel[i % 2] - 1) + 1
                                             for i, p in enumerate(pads)):
            break
    else:
        return None
    weights = g.constant(g.random((out_channels, c // groups, *kernel)) /
                         np.sqrt(c // groups * kernel[0] * kernel[1]))
    inputs = [name, weights]
    if rng.random() < 0.75:  # a bias, large enough to matter after a clamp
        inputs.append(g.constant(g.random((out_channels,), -2, 2), "b"))
    return g.add("Conv", inputs, [n, out_channels, out_h, out_w], kernel_shape=kernel,
                 strides=stride, dilations=dilation, pads=pads, group=groups)


def add_batchnorm(g, value):
    name, shape = value
    c = shape[1]
    params = [g.constant(g.random((c,), 0.5, 1.5)), g.constant(g.random((c,), -1, 1)),
              g.constant(g.random((c,), -1, 1)), g.constant(g.random((c,), 0.2, 2))]
    return g.add("BatchNormalization", [name, *params], shape,
                 epsilon=float(g.rng.choice([1e-5, 1e-3])))


def clamp_bound(g, value):
    """A Clip bound given one of the ways ONNX allows."""
    way = g.rng.integers(3)
    if way == 0:
        return g.constant(np.array(value, np.float32), "bound")
    if way == 1:
        return g.constant_node(np.array(value, np.float32))
    return ""  # absent


def add_activation(g, value):
    name, shape = value
    rng = g.rng
    kind = rng.choice(["Relu", "Clip", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish",
                       "Elu", "Softplus", "Abs", "Neg"])
    if kind == "Clip":
        low = float(rng.uniform(-1, 0.5))
        high = low + float(rng.uniform(0.1, 6))
        bounds = [clamp_bound(g, low), clamp_bound(g, high)]
        while bounds and bounds[-1] == "":
            bounds.pop()
        return g.add("Clip", [name, *bounds], shape)
    if kind == "LeakyRelu":
        return g.add(kind, [name], shape, alpha=float(rng.uniform(0.01, 0.5)))
    if kind == "Elu":
        return g.add(kind, [name], shape, alpha=float(rng.uniform(0.5, 1.5)))
    return g.add(str(kind), [name], shape)


def broadcast_shape(g, shape):
    """A shape that broadcasts to `shape`: some dims kept, others 1, a
    prefix dropped."""
    dims = [d if g.rng.random() < 0.5 else 1 for d in shape]
    drop = int(g.rng.integers(0, len(shape) + 1))
    return dims[drop:]


def add_binary(g, value):
    name, shape = value
    rng = g.rng
    op = str(rng.choice(["Add", "Add", "Mul", "Sub", "Div", "Max", "Min"]))
    others = g.same_shape(shape, name)
    if others and rng.random() < 0.6 and op != "Div":
        other = others[rng.integers(len(others))][0]
    else:
        other_shape = broadcast_shape(g, shape)
        if op == "Div":  # denominators away from zero
            array = g.random(other_shape, 0.5, 2) * rng.choice([-1, 1])
        else:
            array = g.random(other_shape)
        other = g.constant(array) if rng.random() < 0.8 else g.constant_node(array)
    operands = [name, other] if rng.random() < 0.5 or op == "Div" else [other, name]
    return g.add(op, operands, shape)


def add_residual_chain(g, value):
    """kernel -> [bias] -> [BatchNorm] -> Add(residual) -> [Clip|Relu]: the
    pattern the epilogue fusion takes over."""
    name, (n, c, h, w) = value
    rng = g.rng
    depthwise = rng.random() < 0.5
    kernel = int(rng.choice([1, 3, 5]))
    weights_shape = (c, 1, kernel, kernel) if depthwise else (c, c, kernel, kernel)
    weights = g.constant(g.random(weights_shape) / np.sqrt(np.prod(weights_shape[1:])))
    inputs = [name, weights]
    if rng.random() < 0.8:
        inputs.append(g.constant(g.random((c,), -2, 2), "b"))
    pad = kernel // 2
    out = g.add("Conv", inputs, [n, c, h, w], kernel_shape=[kernel, kernel],
                pads=[pad] * 4, group=c if depthwise else 1)
    if rng.random() < 0.3:
        out = add_batchnorm(g, out)
    if rng.random() < 0.7:
        operands = [out[0], name] if rng.random() < 0.5 else [name, out[0]]
        out = g.add("Add", operands, [n, c, h, w])
    if rng.random() < 0.8:
        if rng.random() < 0.5:
            out = g.add("Relu", [out[0]], out[1])
        else:
            low, high = float(rng.choice([0.0, -0.5])), float(rng.choice([6.0, 1.0, 0.5]))
            bounds = [clamp_bound(g, low), clamp_bound(g, high)]
            while bounds and bounds[-1] == "":
                bounds.pop()
            out = g.add("Clip", [out[0], *bounds], out[1])
    return out


def add_pool(g, value):
    name, (n, c, h, w) = value
    rng = g.rng
    kind = str(rng.choice(["MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"]))
    if kind.startswith("Global"):
        return g.add(kind, [name], [n, c, 1, 1])
    kernel = [int(rng.integers(1, min(3, h) + 1)), int(rng.integers(1, min(3, w) + 1))]
    stride = [int(rng.integers(1, 3)) for _ in range(2)]
    pads = [int(rng.integers(0, k)) for k in kernel + kernel]
    ceil = int(rng.random() < 0.3)
    sizes = []
    for i, size in enumerate((h, w)):
        span = size + pads[i] + pads[i + 2] - kernel[i]
        out = (-(-span // stride[i]) if ceil else span // stride[i]) + 1
        # ONNX drops a last window that starts in the end padding.
        if ceil and (out - 1) * stride[i] >= size + pads[i]:
            out -= 1
        sizes.append(out)
    attributes = dict(kernel_shape=kernel, strides=stride, pads=pads, ceil_mode=ceil)
    if kind == "AveragePool":
        attributes["count_include_pad"] = int(rng.random() < 0.5)
    return g.add(kind, [name], [n, c, *sizes], **attributes)


def add_matmul_chain(g, value):
    """Flatten -> Gemm or MatMul (+ bias) -> [Add] -> [Relu|Clip]."""
    name, shape = value
    rng = g.rng
    features = int(np.prod(shape[1:]))
    flat, _ = g.add("Flatten", [name], [shape[0], features], axis=1)
    out_features = int(rng.integers(1, 17))
    if rng.random() < 0.5:
        trans_b = int(rng.random() < 0.5)
        weights = g.random((out_features, features) if trans_b else (features, out_features))
        inputs = [flat, g.constant(weights / np.sqrt(features))]
        if rng.random() < 0.8:
            bias_shape = [[out_features], [1, out_features], [1], []][rng.integers(4)]
            inputs.append(g.constant(g.random(bias_shape, -2, 2), "b"))
        out = g.add("Gemm", inputs, [shape[0], out_features], transB=trans_b,
                    alpha=float(rng.choice([1.0, 0.5])), beta=float(rng.choice([1.0, 2.0])))
    else:
        weights = g.constant(g.random((features, out_features)) / np.sqrt(features))
        out = g.add("MatMul", [flat, weights], [shape[0], out_features])
        if rng.random() < 0.7:
            out = g.add("Add", [out[0], g.constant(g.random((out_features,), -2, 2), "b")],
                        out[1])
    if rng.random() < 0.7:
        out = add_activation(g, out)
    return out


def add_batched_product(g, value):
    """A product over one axis k of `value` with a second operand, the other
    axes of `value` split into batch axes and one row axis m: Einsum with
    the output's axes in any order, or Transpose + MatMul. The second
    operand is a constant of the batch axes (or of none: weights shared
    across the batch), k and a new axis n, in any order, or `value` itself
    (a product of a tensor with itself); `value` is first scaled by a
    constant, or divided by its sums over k (a softmax's normalisation),
    sometimes."""
    name, shape = value
    rng = g.rng
    rank = len(shape)
    if rank < 2 or rank > 4:
        return None
    letters = "abcd"[:rank]
    k, m = (int(a) for a in rng.choice(rank, 2, replace=False))
    batch = [a for a in range(rank) if a not in (k, m)]
    roll = rng.random()
    if roll < 0.2:
        name, _ = g.add(str(rng.choice(["Mul", "Div"])), [name, g.constant(np.float32(
            rng.choice([0.25, 0.5, 2.0, 3.0])))], shape)
    elif roll < 0.35:
        total, _ = g.add("ReduceSum", [name, g_int64(g, [k])],
                         [1 if a == k else d for a, d in enumerate(shape)], keepdims=1)
        name, _ = g.add("Div", [name, total], shape)
    if rng.random() < 0.15:
        # value with itself: y's letters are x's with m renamed to n.
        y_letters = letters.replace(letters[m], "n")
        y_name, y_shape = name, shape
    else:
        n = int(rng.integers(1, 9))
        shared = rng.random() < 0.3
        y_axes = ([] if shared else [letters[a] for a in batch]) + [letters[k], "n"]
        y_axes = [y_axes[int(i)] for i in rng.permutation(len(y_axes))]
        sizes = {letters[a]: shape[a] for a in range(rank)} | {"n": n}
        y_shape = [sizes[letter] for letter in y_axes]
        y_name = g.constant(g.random(y_shape) / np.sqrt(shape[k]))
        y_letters = "".join(y_axes)
    out_axes = [letters[a] for a in batch] + [letters[m], "n"]
    if rng.random() < 0.5:
        out_axes = [out_axes[int(i)] for i in rng.permutation(len(out_axes))]
    sizes = {letters[a]: shape[a] for a in range(rank)} | {"n": y_shape[y_letters.index("n")]}
    out_shape = [sizes[letter] for letter in out_axes]
    equation = f"{letters},{y_letters}->{''.join(out_axes)}"
    return g.add("Einsum", [name, y_name], out_shape, equation=equation)


def add_reduction(g, value):
    name, shape = value
    rng = g.rng
    op = str(rng.choice(["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "Softmax",
                         "LogSoftmax"]))
    axis = int(rng.integers(-len(shape), len(shape)))
    if op in ("Softmax", "LogSoftmax"):
        return g.add(op, [name], shape, axis=axis)
    axes = sorted({axis % len(shape)} | ({int(rng.integers(len(shape)))} if rng.random() < 0.3
                                          else set()))
    keep = int(rng.random() < 0.6)
    if not keep and len(axes) == len(shape):
        keep = 1
    out_shape = [1 if i in axes else d for i, d in enumerate(shape)] if keep else \
        [d for i, d in enumerate(shape) if i not in axes]
    if op == "ReduceSum":  # axes is an input from opset 13
        return g.add(op, [name, g_int64(g, axes)], out_shape, keepdims=keep)
    return g.add(op, [name], out_shape, axes=axes, keepdims=keep)


def g_int64(g, values):
    name = g.name("axes")
    g.initializers.append(numpy_helper.from_array(np.array(values, np.int64), name))
    return name


def add_layout(g, value):
    name, shape = value
    rng = g.rng
    if rng.random() < 0.5:
        perm = [int(p) for p in rng.permutation(len(shape))]
        return g.add("Transpose", [name], [shape[p] for p in perm], perm=perm)
    others = [v for v in g.values if len(v[1]) == len(shape) and v[0] != name]
    axis = int(rng.integers(len(shape)))
    partners = [v for v in others if all(a == b or i == axis
                                         for i, (a, b) in enumerate(zip(v[1], shape)))]
    if partners:
        other = partners[rng.integers(len(partners))]
        out_shape = list(shape)
        out_shape[axis] += other[1][axis]
        return g.add("Concat", [name, other[0]], out_shape, axis=axis)
    return g.add("Identity", [name], shape)


STEPS = [(add_conv, 4, 3), (add_residual_chain, 4, 3), (add_batchnorm, 4, 1),
         (add_activation, None, 2), (add_binary, None, 2), (add_pool, 4, 1),
         (add_matmul_chain, 4, 1), (add_reduction, None, 1), (add_layout, None, 1),
         (add_batched_product, None, 1)]


def random_graph(seed):
    """A random model (opset 13) and an input for it."""
    rng = np.random.default_rng(seed)
    batch = int(rng.choice([1, 2, 3]))
    shape = [batch, int(rng.integers(1, 9)), int(rng.integers(3, 13)), int(rng.integers(3, 13))]
    g = Graph(rng, shape)
    weights = np.array([w for _, _, w in STEPS], float)
    for _ in range(int(rng.integers(2, 9))):
        for _attempt in range(10):
            step, rank, _ = STEPS[rng.choice(len(STEPS), p=weights / weights.sum())]
            value = g.pick(rank)
            if value is not None and (rank is None or min(value[1][2:], default=1) >= 1):
                if step(g, value) is not None:
                    break
    output = g.values[-1]
    model = make_model(g, [output])
    x = rng.standard_normal(shape).astype(np.float32)
    return g, model, x


def output_info(name, rank):
    """A graph output of known rank; its sizes are left to inference."""
    return helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                         [f"{name}_{d}" for d in range(rank)])


def make_model(g, outputs):
    dynamic = g.rng.random() < 0.5
    input_shape = ["n"] + g.values[0][1][1:] if dynamic else g.values[0][1]
    graph = helper.make_graph(
        g.nodes, "fuzz", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [output_info(name, len(shape)) for name, shape in outputs],
        g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def prune(model, output, rank):
    """`model` computing only `output` (of `rank`), keeping the nodes it
    depends on."""
    needed, nodes = {output}, []
    for node in reversed(model.graph.node):
        if any(o in needed for o in node.output):
            nodes.append(node)
            needed.update(i for i in node.input if i)
    graph = helper.make_graph(
        list(reversed(nodes)), "shrunk", list(model.graph.input),
        [output_info(output, rank)],
        [t for t in model.graph.initializer if t.name in needed])
    shrunk = helper.make_model(graph, opset_imports=list(model.opset_import))
    shrunk.ir_version = model.ir_version
    return shrunk


def compare(graceful, path, x):
    """None when graceful and ONNX Runtime agree on `path`, else why not;
    "skip" when ONNX Runtime itself refuses the graph."""
    try:
        reference = ort_outputs(path, [x])
    except RunFailed as error:
        return "skip", str(error)
    try:
        ours = graceful_outputs(graceful, path, [x], len(reference))
    except RunFailed as error:
        # A clear refusal of what the compiler does not lower is no wrong
        # answer; it is counted apart, and shows in the totals.
        return ("unsupported" if "unsupported:" in str(error) else "fail"), str(error)
    for mine, theirs in zip(ours, reference):
        reason, _ = disagreement(mine, theirs)
        if reason:
            return "fail", reason
    return "ok", ""


def shrink(graceful, g, model, x, work):
    """The shortest prefix of `model` (by node) whose last value disagrees."""
    ranks = {name: len(shape) for name, shape in g.values}
    for node in model.graph.node:
        if node.op_type == "Constant":
            continue
        candidate = prune(model, node.output[0], ranks[node.output[0]])
        path = os.path.join(work, "shrink.onnx")
        onnx.save(candidate, path)
        verdict, reason = compare(graceful, path, x)
        if verdict == "fail":
            return candidate, reason
    return model, None


def fuzz(args):
    first, count = (int(part) for part in args.seeds.split(":"))
    counts = {"ok": 0, "fail": 0, "skip": 0, "unsupported": 0}
    started = time.time()
    for seed in range(first, first + count):
        g, model, x = random_graph(seed)
        path = os.path.join(args.work, f"graph{seed}.onnx")
        onnx.save(model, path)
        verdict, reason = compare(args.graceful, path, x)
        counts[verdict] += 1
        if verdict == "fail":
            shrunk, shrunk_reason = shrink(args.graceful, g, model, x, args.work)
            ops = ",".join(n.op_type for n in shrunk.graph.node if n.op_type != "Constant")
            print(f"seed {seed}: FAILED: {reason} | shrunk to {ops}: {shrunk_reason}", flush=True)
            if args.save:
                os.makedirs(args.save, exist_ok=True)
                onnx.save(shrunk, os.path.join(args.save, f"seed{seed}.onnx"))
                np.save(os.path.join(args.save, f"seed{seed}.input.npy"), x)
        elif verdict in ("skip", "unsupported"):
            print(f"seed {seed}: {verdict}: {reason[:300]}", flush=True)
        else:
            os.remove(path)
        done = seed - first + 1
        if done % 50 == 0 or done == count:
            print(f"[{done}/{count}, {time.time() - started:.0f} s] {summary(counts)}", flush=True)
    return counts


def replay(args):
    counts = {"ok": 0, "fail": 0, "skip": 0, "unsupported": 0}
    for file in sorted(os.listdir(args.regressions)):
        if not file.endswith(".onnx"):
            continue
        base = os.path.join(args.regressions, file[:-len(".onnx")])
        verdict, reason = compare(args.graceful, base + ".onnx", np.load(base + ".input.npy"))
        counts[verdict] += 1
        print(f"{file}: {verdict} {reason}", flush=True)
    return counts


def summary(counts):
    return (f"{counts['ok']} agree, {counts['fail']} failed, {counts['unsupported']} refused as "
            f"unsupported, {counts['skip']} refused by ONNX Runtime")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("graceful")
    parser.add_argument("work")
    parser.add_argument("--seeds", default="0:200")
    parser.add_argument("--save")
    parser.add_argument("--regressions")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    counts = replay(args) if args.regressions else fuzz(args)
    print(summary(counts))
    return 1 if counts["fail"] or (args.regressions and counts["skip"]) else 0


if __name__ == "__main__":
    sys.exit(main())
