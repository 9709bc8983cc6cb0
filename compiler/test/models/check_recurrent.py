#!/usr/bin/python3
"""Recurrent layers exported the way users export them: torch.nn.RNN (tanh
and relu), GRU and LSTM through torch.onnx.export with its defaults, one
and two layers, one and two directions, batch_first or not, with and
without initial states given as inputs, at opset 13 and 17. Each model
runs through `graceful run` and ONNX Runtime (npm's onnxruntime-node);
outputs must agree within 1e-4 of their scale (differential.py's rule),
and with torch itself. sequence_lens, which only ONNX-made models carry,
is checked in range (against ONNX Runtime) and out of it (exit 2, one
line, refused by ONNX Runtime too), and with the reverse direction (not
supported: a clear error).

usage: check_recurrent.py GRACEFUL WORK_DIR
"""
import os
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from differential import RunFailed, disagreement, graceful_outputs, ort_outputs

STEPS, BATCH, FEATURES, HIDDEN = 7, 3, 5, 6


class WithStates(torch.nn.Module):
    """The layer called with initial states, as a user's encoder does."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, *states):
        state = states if isinstance(self.layer, torch.nn.LSTM) else states[0]
        y, _ = self.layer(x, state)
        return y


class OutputsOnly(torch.nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        y, last = self.layer(x)
        return (y, *last) if isinstance(last, tuple) else (y, last)


def layer_of(kind, layers, bidirectional, batch_first):
    common = dict(input_size=FEATURES, hidden_size=HIDDEN, num_layers=layers,
                  bidirectional=bidirectional, batch_first=batch_first)
    if kind == "rnn_relu":
        return torch.nn.RNN(nonlinearity="relu", **common)
    return {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind](**common)


def configurations():
    for kind in ["rnn", "rnn_relu", "gru", "lstm"]:
        for layers, bidirectional, batch_first, states, opset in [
                (1, False, False, False, 17), (2, True, True, False, 13),
                (1, True, False, True, 17), (2, False, True, True, 13)]:
            yield kind, layers, bidirectional, batch_first, states, opset


def export(path, kind, layers, bidirectional, batch_first, states, opset, rng):
    torch.manual_seed(int(rng.integers(1 << 30)))
    layer = layer_of(kind, layers, bidirectional, batch_first).eval()
    shape = (BATCH, STEPS, FEATURES) if batch_first else (STEPS, BATCH, FEATURES)
    x = rng.standard_normal(shape).astype(np.float32)
    inputs = [x]
    if states:
        directions = 2 if bidirectional else 1
        state_shape = (layers * directions, BATCH, HIDDEN)
        inputs.append(rng.standard_normal(state_shape).astype(np.float32))
        if kind == "lstm":
            inputs.append(rng.standard_normal(state_shape).astype(np.float32))
        module = WithStates(layer)
    else:
        module = OutputsOnly(layer)
    tensors = tuple(torch.from_numpy(a) for a in inputs)
    with torch.no_grad():
        expected = module(*tensors)
        torch.onnx.export(module, tensors, path, opset_version=opset)
    expected = expected if isinstance(expected, tuple) else (expected,)
    return inputs, [e.numpy() for e in expected]


def gru_with_lengths(path, direction="forward"):
    """A GRU over 7 steps of 3 samples whose lengths are a graph input."""
    rng = np.random.default_rng(5)
    weights = [helper.make_tensor(name, TensorProto.FLOAT, shape,
                                  rng.standard_normal(shape).astype(np.float32).ravel().tolist())
               for name, shape in [("W", [1, 3 * HIDDEN, FEATURES]),
                                   ("R", [1, 3 * HIDDEN, HIDDEN]), ("B", [1, 6 * HIDDEN])]]
    node = helper.make_node("GRU", ["x", "W", "R", "B", "lengths"], ["y", "h"], name="gru",
                            hidden_size=HIDDEN, direction=direction, linear_before_reset=1)
    graph = helper.make_graph(
        [node], "gru", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                      [STEPS, BATCH, FEATURES]),
                        helper.make_tensor_value_info("lengths", TensorProto.INT32, [BATCH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [STEPS, 1, BATCH, HIDDEN]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, BATCH, HIDDEN])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def check_lengths(graceful, work):
    path = os.path.join(work, "gru-lengths.onnx")
    gru_with_lengths(path)
    x = np.random.default_rng(3).standard_normal((STEPS, BATCH, FEATURES)).astype(np.float32)
    failures = []
    good = [x, np.array([STEPS, 3, 0], np.int32)]
    try:
        for mine, reference in zip(graceful_outputs(graceful, path, good, 2),
                                   ort_outputs(path, good)):
            reason, _ = disagreement(mine, reference)
            if reason:
                failures.append(f"GRU with lengths {good[1].tolist()}: {reason}")
    except RunFailed as failure:
        failures.append(f"GRU with lengths {good[1].tolist()}: {failure}")
    for value in [STEPS + 1, -1, 2**31 - 1]:
        bad = [x, np.array([STEPS, value, 1], np.int32)]
        try:
            graceful_outputs(graceful, path, bad, 2)
            failures.append(f"GRU with length {value}: graceful accepted it")
        except RunFailed as failure:
            expected = (f"graceful (exit 2): graceful: error: node 'gru' (GRU): sequence length "
                        f"{value} is out of range for {STEPS} steps (valid: 0 to {STEPS})")
            if str(failure) != expected:
                failures.append(f"GRU with length {value}: {failure}")
        try:
            ort_outputs(path, bad)
            failures.append(f"GRU with length {value}: ONNX Runtime accepted it")
        except RunFailed:
            pass
    reverse = os.path.join(work, "gru-lengths-reverse.onnx")
    gru_with_lengths(reverse, "reverse")
    try:
        graceful_outputs(graceful, reverse, good, 2)
        failures.append("reverse GRU with lengths: accepted, though not supported")
    except RunFailed as failure:
        if "exit 2" not in str(failure) or \
                "unsupported: sequence_lens with direction 'reverse'" not in str(failure):
            failures.append(f"reverse GRU with lengths: {failure}")
    return failures


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    # torch's exporter warns about batch sizes and constants on every RNN.
    warnings.filterwarnings("ignore", category=UserWarning)
    rng = np.random.default_rng(11)
    failures, count, worst = [], 0, 0.0
    for config in configurations():
        name = "{}-l{}-{}-{}-{}-opset{}".format(
            config[0], config[1], "bi" if config[2] else "uni",
            "batch_first" if config[3] else "seq_first", "states" if config[4] else "zeros",
            config[5])
        path = os.path.join(work, name + ".onnx")
        inputs, from_torch = export(path, *config, rng)
        count += 1
        try:
            ours = graceful_outputs(graceful, path, inputs, len(from_torch))
            theirs = ort_outputs(path, inputs)
        except RunFailed as failure:
            failures.append(f"{name}: {failure}")
            continue
        for index, (mine, reference, torch_value) in enumerate(zip(ours, theirs, from_torch)):
            for judge, value in [("ONNX Runtime", reference), ("torch", torch_value)]:
                reason, error = disagreement(mine, value)
                worst = max(worst, error)
                if reason:
                    failures.append(f"{name} output {index} against {judge}: {reason}")
    failures += check_lengths(graceful, work)
    for failure in failures:
        print("FAIL", failure)
    print(f"{count} recurrent models, sequence lengths, worst error {worst:.1e} of scale: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
