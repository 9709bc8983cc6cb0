#!/usr/bin/python3
"""MaxPool's Indices output as torch exports it (max_pool2d with
return_indices), through `graceful run`, against ONNX Runtime and torch:
kernels, strides, padding, dilation and ceil_mode, on inputs with ties and
all-negative windows. The indices must be equal, the values agree.

usage: check_pool_indices.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np
import torch

from differential import RunFailed, finish, graceful_outputs, judged, ort_outputs


class Pool(torch.nn.Module):
    def __init__(self, **options):
        super().__init__()
        self.pool = torch.nn.MaxPool2d(return_indices=True, **options)

    def forward(self, x):
        return self.pool(x)


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
        model = Pool(**options).eval()
        path = os.path.join(work, f"pool{index}.onnx")
        torch.onnx.export(model, torch.from_numpy(x), path, input_names=["x"],
                          output_names=["values", "indices"], opset_version=13)
        expected = [t.numpy() for t in model(torch.from_numpy(x))]
        try:
            ours = graceful_outputs(graceful, path, [x], 2)
            reference = ort_outputs(path, [x])
        except RunFailed as error:
            failures.append(f"{label}: {error}")
            continue
        failures += judged(f"MaxPool2d({label})", ours,
                           {"ONNX Runtime": reference, "torch": expected})
    finish(f"{len(cases)} max_pool2d exports with indices checked against ONNX Runtime and torch",
           failures)


if __name__ == "__main__":
    main()
