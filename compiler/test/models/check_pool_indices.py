#!/usr/bin/python3
"""MaxPool's Indices output as torch exports it (max_pool2d with
return_indices), through `graceful run`, against ONNX Runtime and torch:
kernels, strides, padding, dilation and ceil_mode, on inputs with ties and
all-negative windows. The indices must be equal, the values agree. Then
MaxUnpool of max_pool2d's values and indices (torch 1.13 does not export
max_unpool2d, so the node is written by hand), with and without an
output_shape (one the default size would not give), on a batch of several
channels: ONNX's indices run over the whole tensor, torch's over each
plane. Against ONNX Runtime and torch's max_unpool2d. An index past the
output, negative, or at the int64 limits fails the run with exit 2 and one
line naming the node and the index, writes no output, and ONNX Runtime
refuses it too.

usage: check_pool_indices.py GRACEFUL WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import torch

from differential import RunFailed, against_ort, finish, ort_outputs, save_one_node_model


class Pool(torch.nn.Module):
    def __init__(self, **options):
        super().__init__()
        self.pool = torch.nn.MaxPool2d(return_indices=True, **options)

    def forward(self, x):
        return self.pool(x)


def checked(graceful, label, model, x, path, outputs):
    """Failures of the torch module exported to `path` against ONNX Runtime
    and torch."""
    torch.onnx.export(model, torch.from_numpy(x), path, input_names=["x"],
                      output_names=[f"out{i}" for i in range(outputs)], opset_version=13)
    expected = model(torch.from_numpy(x))
    expected = [t.numpy() for t in (expected if isinstance(expected, tuple) else [expected])]
    return against_ort(graceful, label, path, [x], {"torch": expected}, output_count=outputs)


def check_unpool(graceful, work, index, x, sized, kernel, stride, padding):
    values, indices = torch.nn.functional.max_pool2d(
        torch.from_numpy(x), kernel, stride, padding, return_indices=True)
    size = x.shape[-2:] if sized else None
    expected = torch.nn.functional.max_unpool2d(values, indices, kernel, stride, padding,
                                                output_size=size).numpy()
    planes = np.arange(x.shape[0] * x.shape[1]).reshape(x.shape[0], x.shape[1], 1, 1)
    flat = indices.numpy() + planes * expected.shape[2] * expected.shape[3]
    label = (f"MaxUnpool(kernel {kernel}, strides {stride}, pads {padding}"
             f"{', output_shape' if sized else ''})")
    path = os.path.join(work, f"unpool{index}.onnx")
    constants = [("shape", np.array(expected.shape, np.int64))] if sized else []
    save_one_node_model(path, "MaxUnpool", [("x", np.float32, values.shape),
                                            ("i", np.int64, flat.shape)],
                        [("y", np.float32, expected.shape)], opset=11, constants=constants,
                        kernel_shape=list(kernel), strides=list(stride), pads=list(padding) * 2)
    return against_ort(graceful, label, path, [values.numpy(), flat], {"torch": [expected]})


def check_unpool_refusals(graceful, work):
    path = os.path.join(work, "unpool-bad.onnx")
    save_one_node_model(path, "MaxUnpool", [("x", np.float32, (1, 1, 2, 2)),
                                            ("i", np.int64, (1, 1, 2, 2))],
                        [("y", np.float32, (1, 1, 4, 4))], opset=11, kernel_shape=[2, 2],
                        strides=[2, 2])
    x = np.ones((1, 1, 2, 2), np.float32)
    failures = []
    for bad in [16, -1, -16, 10**12, np.iinfo(np.int64).min]:
        indices = np.array([0, 5, 10, bad], np.int64).reshape(1, 1, 2, 2)
        output = os.path.join(work, "unpool-bad-output.npy")
        if os.path.exists(output):
            os.remove(output)
        command = [graceful, "run", path, "--output", output]
        for name, array in (("x", x), ("i", indices)):
            np.save(os.path.join(work, f"unpool-bad-{name}.npy"), array)
            command += ["--input", os.path.join(work, f"unpool-bad-{name}.npy")]
        run = subprocess.run(command, capture_output=True, text=True,
                             env=dict(os.environ, GRACEFUL_CACHE="off"))
        lines = run.stderr.strip().splitlines()
        why = None
        if run.returncode != 2 or len(lines) != 1 or f"index {bad} is out of range" not in lines[0]:
            why = f"exit {run.returncode}: {run.stderr.strip()!r}"
        elif os.path.exists(output):
            why = "an output was written"
        else:
            try:
                ort_outputs(path, [x, indices])
                why = "ONNX Runtime accepted it"
            except RunFailed:
                pass
        print(f"{'FAIL' if why else 'ok  '} MaxUnpool refuses index {bad}", flush=True)
        failures += [f"MaxUnpool index {bad}: {why}"] if why else []
    return failures


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261201)
    x = rng.integers(-4, 4, size=(2, 3, 9, 8)).astype(np.float32)  # many ties
    x[1, 2] = -5 - rng.random((9, 8)).astype(np.float32)  # all negative
    cases = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
             dict(kernel_size=3, stride=1, dilation=2), dict(kernel_size=2, stride=2, ceil_mode=True),
             dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))]
    failures = []
    for index, options in enumerate(cases):
        label = ", ".join(f"{k}={v}" for k, v in options.items())
        failures += checked(graceful, f"MaxPool2d({label})", Pool(**options).eval(), x,
                            os.path.join(work, f"pool{index}.onnx"), 2)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    unpools = [(True, (2, 2), (2, 2), (0, 0)), (False, (2, 2), (2, 2), (0, 0)),
               (True, (3, 3), (2, 2), (1, 1)), (False, (3, 2), (2, 2), (0, 0))]
    for index, unpool in enumerate(unpools):
        failures += check_unpool(graceful, work, index, x, *unpool)
    failures += check_unpool_refusals(graceful, work)
    finish(f"{len(cases)} max_pool2d exports with indices and {len(unpools)} MaxUnpool models "
           "checked against ONNX Runtime and torch", failures)


if __name__ == "__main__":
    main()
