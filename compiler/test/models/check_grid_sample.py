#!/usr/bin/python3
"""GridSample exported by torch (torch.nn.functional.grid_sample, opset 16)
through `graceful run`, against ONNX Runtime and torch itself.

Every mode (nearest, bilinear, bicubic) with every padding mode (zeros,
border, reflection), with and without align_corners, on a grid that
reaches outside [-1, 1] (where padding decides), lands exactly on pixel
centres and on half-way points (where nearest rounds half to even). Outputs
agree with ONNX Runtime's and torch's to 1e-4 of their scale.

usage: check_grid_sample.py GRACEFUL WORK_DIR
"""
import itertools
import os
import sys

import numpy as np
import torch

from differential import RunFailed, finish, graceful_outputs, judged, ort_outputs


class Sampler(torch.nn.Module):
    def __init__(self, mode, padding, align_corners):
        super().__init__()
        self.options = {"mode": mode, "padding_mode": padding, "align_corners": align_corners}

    def forward(self, image, grid):
        return torch.nn.functional.grid_sample(image, grid, **self.options)


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261201)
    image = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    grid = rng.uniform(-1.6, 1.6, size=(2, 4, 6, 2)).astype(np.float32)
    # Pixel centres and half-way points of the 7-wide axis without align_corners.
    grid[0, 0, :, 0] = (np.array([0, 1, 2, 2.5, 3.5, 6]) * 2 + 1) / 7 - 1
    failures = []
    for mode, padding, align in itertools.product(("nearest", "bilinear", "bicubic"),
                                                  ("zeros", "border", "reflection"), (False, True)):
        label = f"{mode}, {padding}, align_corners={int(align)}"
        path = os.path.join(work, f"{mode}-{padding}-{int(align)}.onnx")
        model = Sampler(mode, padding, align)
        torch.onnx.export(model, (torch.from_numpy(image), torch.from_numpy(grid)), path,
                          input_names=["image", "grid"], output_names=["y"], opset_version=16)
        expected = model(torch.from_numpy(image), torch.from_numpy(grid)).numpy()
        try:
            reference = ort_outputs(path, [image, grid])[0]
            ours = graceful_outputs(graceful, path, [image, grid], 1)[0]
        except RunFailed as error:
            failures.append(f"{label}: {error}")
            continue
        failures += judged(label, [ours], {"ONNX Runtime": [reference], "torch": [expected]})
    failures += check_wild_grid(graceful, work, image, grid)
    finish("18 GridSample exports checked against ONNX Runtime and torch, and a grid holding NaN "
           "and 1e30", failures)


def check_wild_grid(graceful, work, image, grid):
    """A NaN and a 1e30 in the grid: the run succeeds, every other point
    agrees with torch (where the reflection of 1e30 lands is float32
    rounding's, not the spec's)."""
    wild = grid.copy()
    wild[1, 2, 3] = [np.nan, 0.5]
    wild[1, 3, 4] = [1e30, -1e30]
    model = Sampler("bilinear", "reflection", False)
    path = os.path.join(work, "wild.onnx")
    torch.onnx.export(model, (torch.from_numpy(image), torch.from_numpy(wild)), path,
                      input_names=["image", "grid"], output_names=["y"], opset_version=16)
    expected = model(torch.from_numpy(image), torch.from_numpy(wild)).numpy()
    try:
        ours = graceful_outputs(graceful, path, [image, wild], 1)[0]
    except RunFailed as error:
        return [f"NaN and 1e30 in the grid: {error}"]
    for sample, row, column in [(1, 2, 3), (1, 3, 4)]:
        ours[sample, :, row, column] = expected[sample, :, row, column] = 0
    return judged("bilinear, reflection, a grid holding NaN and 1e30", [ours],
                  {"torch": [expected]})


if __name__ == "__main__":
    main()
