#!/usr/bin/python3
"""3x3 stride-1 convolutions, which the JIT computes by Winograd's F(4x4,
3x3) when their filters are constant, against ONNX Runtime (which computes
them directly) and against float64 NumPy: sizes that are and are not
multiples of the 4x4 tile, every padding ONNX allows (symmetric or not,
none, wider than the kernel), channel counts at and beyond the thresholds,
batches of 1, 3 and 8, with the epilogues the JIT fuses (bias, residual
Add, Relu, Clip bounds from initializers and from Constant nodes), and
inputs the transform must not see (NaN, infinities, values near float's
range), which take the direct path and must give its NaN and infinities.

usage: check_winograd.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from differential import RunFailed, disagreement, finish, graceful_outputs, ort_outputs

# (channels, out channels, height, width, pads top, left, bottom, right, epilogue).
# The runtime takes Winograd's path from 96 tiles of 4x4 output pixels per
# call (all samples): most cases reach it at batch 1, the others at 3 or 8,
# and the last never does (the direct path, for comparison).
CASES = [
    (16, 16, 40, 40, (1, 1, 1, 1), "none"),
    (16, 32, 37, 45, (1, 1, 1, 1), "bias"),
    (17, 19, 42, 43, (0, 0, 0, 0), "bias"),
    (32, 16, 14, 14, (1, 1, 1, 1), "relu"),
    (24, 40, 35, 37, (2, 1, 0, 3), "clip-initializers"),
    (64, 64, 56, 56, (1, 1, 1, 1), "residual-relu"),
    (48, 24, 30, 30, (3, 3, 3, 3), "clip-constants"),
    (16, 16, 33, 8, (1, 0, 1, 0), "residual"),
    (128, 64, 28, 28, (1, 1, 1, 1), "bias-relu"),
    (20, 36, 8, 9, (0, 2, 2, 0), "relu"),
]
BATCHES = (1, 3, 8)


def write_model(path, channels, out_channels, pads, epilogue, rng):
    weights = rng.standard_normal((out_channels, channels, 3, 3)).astype(np.float32)
    weights /= np.sqrt(channels * 9)
    initializers = [numpy_helper.from_array(weights, "w")]
    inputs = ["x", "w"]
    if "bias" in epilogue or "residual" in epilogue or "clip" in epilogue:
        initializers.append(numpy_helper.from_array(
            rng.standard_normal(out_channels).astype(np.float32), "b"))
        inputs.append("b")
    nodes = [helper.make_node("Conv", inputs, ["conv"], kernel_shape=[3, 3], pads=list(pads))]
    value = "conv"
    if "residual" in epilogue:
        nodes.append(helper.make_node("Add", [value, "skip"], ["sum"]))
        value = "sum"
    if "relu" in epilogue:
        nodes.append(helper.make_node("Relu", [value], ["y"]))
    elif epilogue == "clip-initializers":
        initializers += [numpy_helper.from_array(np.float32(-0.5), "low"),
                         numpy_helper.from_array(np.float32(0.75), "high")]
        nodes.append(helper.make_node("Clip", [value, "low", "high"], ["y"]))
    elif epilogue == "clip-constants":
        nodes += [helper.make_node("Constant", [], ["low"], value=numpy_helper.from_array(
                      np.float32(0.0), "low")),
                  helper.make_node("Constant", [], ["high"], value=numpy_helper.from_array(
                      np.float32(6.0), "high"))]
        nodes.append(helper.make_node("Clip", [value, "low", "high"], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", [value], ["y"]))
    graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                  ["n", channels, None, None])]
    if "residual" in epilogue:
        graph_inputs.append(helper.make_tensor_value_info("skip", TensorProto.FLOAT,
                                                          ["n", out_channels, None, None]))
    graph = helper.make_graph(
        nodes, "winograd", graph_inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", out_channels, None, None])],
        initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return weights


def direct_conv(x, weights, pads):
    """The convolution in float64, as a sum over the 9 taps."""
    top, left, bottom, right = pads
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    height, width = padded.shape[2] - 2, padded.shape[3] - 2
    out = np.zeros((x.shape[0], weights.shape[0], height, width))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,mc->nmhw", padded[:, :, i:i + height, j:j + width],
                             weights[:, :, i, j].astype(np.float64))
    return out


def case_inputs(rng, batch, channels, out_channels, height, width, pads, epilogue):
    x = rng.standard_normal((batch, channels, height, width)).astype(np.float32)
    if "residual" not in epilogue:
        return [x]
    out_height = height + pads[0] + pads[2] - 2
    out_width = width + pads[1] + pads[3] - 2
    return [x, rng.standard_normal((batch, out_channels, out_height, out_width)).astype(np.float32)]


def compare(graceful, label, path, inputs, references):
    try:
        ours = graceful_outputs(graceful, path, inputs, 1)[0]
        theirs = {"ONNX Runtime": ort_outputs(path, inputs)[0], **references}
    except RunFailed as error:
        print(f"FAIL {label}", flush=True)
        return [f"{label}: {error}"]
    wrong = [f"{label}: {judge}: {why}" for judge, reference in theirs.items()
             for why in [disagreement(ours, reference.astype(np.float32))[0]] if why]
    worst = max(disagreement(ours, reference.astype(np.float32))[1]
                for reference in theirs.values())
    print(f"{'FAIL' if wrong else 'ok  '} {label} (error {worst:.1e} of scale)", flush=True)
    return wrong


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(7)
    failures, count = [], 0
    for index, (channels, out_channels, height, width, pads, epilogue) in enumerate(CASES):
        path = os.path.join(work, f"winograd{index}.onnx")
        weights = write_model(path, channels, out_channels, pads, epilogue, rng)
        for batch in BATCHES:
            inputs = case_inputs(rng, batch, channels, out_channels, height, width, pads,
                                 epilogue)
            references = {}
            if epilogue == "none":
                references["float64"] = direct_conv(inputs[0], weights, pads)
            label = (f"C={channels} M={out_channels} {height}x{width} pads={pads} "
                     f"{epilogue} batch {batch}")
            failures += compare(graceful, label, path, inputs, references)
            count += 1
    # Values the transform must not see: the direct path's NaN and infinities.
    path = os.path.join(work, "winograd0.onnx")
    for name, value in (("NaN", np.nan), ("infinity", np.inf), ("-infinity", -np.inf),
                        ("3e38", 3e38), ("1e13", 1e13)):
        x = rng.standard_normal((2, 16, 40, 40)).astype(np.float32)
        x[1, 3, 4, 5] = value
        failures += compare(graceful, f"input holding {name}", path, [x], {})
        count += 1
    finish(f"{count - len(failures)} of {count} Winograd cases agree", failures)


if __name__ == "__main__":
    main()
