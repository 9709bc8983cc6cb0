"""Shared by the model checks: one model through `graceful run`."""
import subprocess

import numpy as np


def run_model(graceful, base, expected_shape):
    """Runs BASE.onnx on BASE.input.npy, writing BASE.output.npy. Returns
    (outputs, None), or (None, why it failed) when the run fails or the
    outputs do not have `expected_shape`."""
    run = subprocess.run([graceful, "run", base + ".onnx", "--input", base + ".input.npy",
                          "--output", base + ".output.npy"], capture_output=True, text=True)
    if run.returncode != 0:
        return None, f"FAILED: {run.stderr.strip()}"
    ours = np.load(base + ".output.npy")
    if ours.shape != expected_shape:
        return None, f"FAILED: shape {ours.shape}, expected {expected_shape}"
    return ours, None
