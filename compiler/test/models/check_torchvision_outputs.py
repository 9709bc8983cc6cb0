#!/usr/bin/python3
"""Whole torchvision models through `graceful run`, against the outputs
torch computed at export time (random weights, batch 2, 224x224), and a
transformer encoder (16 tokens).

usage: check_torchvision_outputs.py GRACEFUL EXPORT_SCRIPT WORK_DIR
"""
import subprocess
import sys

import numpy as np

# ShuffleNetV2's reshape targets are computed from Shape/Gather/Concat
# chains; the importer folds them once the input shape is known.
MODELS = ["resnet18", "mobilenet_v2", "squeezenet1_0", "mobilenet_v3_small",
          "efficientnet_b0", "regnet_x_400mf", "densenet121", "shufflenet_v2_x1_0", "vgg11",
          "transformer_encoder"]
SIZES = {"transformer_encoder": "16"}


def main(graceful, export_script, work_dir):
    passed = failed = 0
    for name in MODELS:
        subprocess.run(["/usr/bin/python3", export_script, name, work_dir, "--batch", "2",
                        "--size", SIZES.get(name, "224")], check=True, capture_output=True)
        base = f"{work_dir}/{name}"
        run = subprocess.run([graceful, "run", base + ".onnx", "--input", base + ".input.npy",
                              "--output", base + ".graceful.npy"], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{name}: FAILED: {run.stderr.strip()}")
            failed += 1
            continue
        ours, torch = np.load(base + ".graceful.npy"), np.load(base + ".output.npy")
        # Randomly initialised nets can have tiny outputs: compare relative to
        # their scale, not with a fixed absolute tolerance.
        scale = float(np.abs(torch).max())
        error = float(np.abs(ours - torch).max()) / scale if scale > 0 else float("inf")
        ok = ours.shape == torch.shape and error < 1e-3
        print(f"{name}: {'ok' if ok else 'FAILED'} (max error {error:.2e} of scale {scale:.2e})")
        passed, failed = passed + ok, failed + (not ok)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
