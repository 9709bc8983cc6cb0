#!/usr/bin/python3
"""RoiAlign through `graceful run`. torchvision's roi_align exported by
torch.onnx.export (aligned at opset 16, not aligned at opset 11: torch 1.13
exports aligned=False at 16 without coordinate_transformation_mode, which
there means half_pixel, so the model computes aligned values; a fixed and
an adaptive sampling grid, spatial scales), against ONNX Runtime and
torchvision; and
one-node models for what torchvision does not export (max mode, opset
10's default coordinates), against ONNX Runtime. Regions reach outside the
image, are smaller than a pixel, and come from several images of a batch.
A batch index out of range, and a region whose adaptive grid would take
hours, fail the run with exit 2.

usage: check_roi_align.py GRACEFUL WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torchvision

from differential import against_ort, finish, save_one_node_model


class Align(torch.nn.Module):
    def __init__(self, **options):
        super().__init__()
        self.options = options

    def forward(self, x, boxes):
        return torchvision.ops.roi_align(x, boxes, **self.options)


def regions(rng, count, height, width, batch):
    """(batch index, x1, y1, x2, y2) rows: random ones, one past the image's
    edges, one smaller than a pixel."""
    x1 = rng.uniform(-2, width - 1, count)
    y1 = rng.uniform(-2, height - 1, count)
    boxes = np.stack([rng.integers(0, batch, count), x1, y1,
                      x1 + rng.uniform(0.5, width, count), y1 + rng.uniform(0.5, height, count)], 1)
    boxes[0, 1:] = [-3, -3, width + 3, height + 3]
    boxes[1, 1:] = [2.2, 3.1, 2.6, 3.3]
    return boxes.astype(np.float32)


def check_exports(graceful, work, rng):
    x = rng.standard_normal((2, 3, 12, 10)).astype(np.float32)
    boxes = regions(rng, 7, 12, 10, 2)
    cases = [dict(output_size=(5, 5), spatial_scale=1.0, sampling_ratio=2, aligned=True),
             dict(output_size=(4, 3), spatial_scale=1.0, sampling_ratio=2, aligned=False),
             dict(output_size=(3, 3), spatial_scale=0.5, sampling_ratio=-1, aligned=True),
             dict(output_size=(2, 4), spatial_scale=2.0, sampling_ratio=-1, aligned=False)]
    failures = []
    for index, options in enumerate(cases):
        opset = 16 if options["aligned"] else 11
        label = "roi_align(" + ", ".join(f"{k}={v}" for k, v in options.items()) + f"), opset {opset}"
        model = Align(**options).eval()
        path = os.path.join(work, f"roi_align{index}.onnx")
        inputs = (torch.from_numpy(x), torch.from_numpy(boxes))
        torch.onnx.export(model, inputs, path, input_names=["x", "boxes"], output_names=["y"],
                          opset_version=opset)
        expected = model(*inputs).numpy()
        failures += against_ort(graceful, label, path, [x, boxes], {"torchvision": [expected]})
    return len(cases), failures


def one_node(path, x, rois, opset, bins, **attributes):
    return save_one_node_model(
        path, "RoiAlign", [("x", np.float32, x.shape), ("rois", np.float32, rois.shape),
                           ("batch", np.int64, (rois.shape[0],))],
        [("y", np.float32, (rois.shape[0], x.shape[1], *bins))], opset=opset,
        output_height=bins[0], output_width=bins[1], **attributes)


def check_one_node(graceful, work, rng):
    x = rng.standard_normal((2, 2, 9, 11)).astype(np.float32)
    boxes = regions(rng, 6, 9, 11, 2)
    rois, batch = boxes[:, 1:].copy(), boxes[:, 0].astype(np.int64)
    cases = [("max, half_pixel, 2 points", 16, (3, 3),
              dict(mode="max", sampling_ratio=2, coordinate_transformation_mode="half_pixel")),
             ("max, adaptive grid", 16, (4, 2), dict(mode="max", spatial_scale=0.75)),
             ("avg, output_half_pixel", 16, (2, 2),
              dict(coordinate_transformation_mode="output_half_pixel", sampling_ratio=3)),
             ("opset 10's default coordinates", 10, (3, 4), dict(sampling_ratio=2)),
             ("opset 16's default coordinates", 16, (3, 4), dict(sampling_ratio=2))]
    failures = []
    for index, (label, opset, bins, attributes) in enumerate(cases):
        path = os.path.join(work, f"roi_node{index}.onnx")
        one_node(path, x, rois, opset, bins, **attributes)
        failures += against_ort(graceful, f"RoiAlign {label}", path, [x, rois, batch])
    return len(cases), failures


def check_refusals(graceful, work):
    """Batch indices out of range, and a region so large that its adaptive
    grid would take hours, fail the run with exit 2 and one line."""
    x = np.ones((2, 1, 4, 4), np.float32)
    path = os.path.join(work, "roi_bad.onnx")
    one_node(path, x, np.zeros((2, 4), np.float32), 16, (2, 2))
    small = np.array([[0, 0, 2, 2], [1, 1, 3, 3]], np.float32)
    huge = np.array([[0, 0, 2, 2], [0, 0, 1e9, 1e9]], np.float32)
    cases = [(f"batch index {bad}", small, [0, bad], f"index {bad} is out of range")
             for bad in [2, -1, 10**15]]
    cases.append(("a region 1e9 pixels wide", huge, [0, 1], "sampling points per bin"))
    failures = []
    for label, rois, batch, message in cases:
        files = []
        for name, array in (("x", x), ("rois", rois), ("batch", np.array(batch, np.int64))):
            files += ["--input", os.path.join(work, f"roi_bad_{name}.npy")]
            np.save(files[-1], array)
        run = subprocess.run([graceful, "run", path, *files, "--output",
                              os.path.join(work, "roi_bad_y.npy")],
                             capture_output=True, text=True, env=dict(os.environ, GRACEFUL_CACHE="off"))
        lines = run.stderr.strip().splitlines()
        ok = run.returncode == 2 and len(lines) == 1 and message in lines[0]
        print(f"{'ok  ' if ok else 'FAIL'} RoiAlign refuses {label}", flush=True)
        failures += [] if ok else [f"{label}: exit {run.returncode}: {run.stderr.strip()}"]
    return failures


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261201)
    exported, failures = check_exports(graceful, work, rng)
    nodes, node_failures = check_one_node(graceful, work, rng)
    failures += node_failures + check_refusals(graceful, work)
    finish(f"{exported} torchvision roi_align exports (against ONNX Runtime and torchvision) and "
           f"{nodes} RoiAlign nodes (against ONNX Runtime) checked", failures)


if __name__ == "__main__":
    main()
