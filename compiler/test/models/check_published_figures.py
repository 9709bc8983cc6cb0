#!/usr/bin/python3
"""graceful inspect against torchvision's published figures and against
torch's own count (parameters; conv + linear MACs from forward hooks).

usage: check_published_figures.py GRACEFUL EXPORT_SCRIPT WORK_DIR
"""
import json
import subprocess
import sys

# torchvision's documented parameter counts and the MACs at 224x224 that
# the issue quotes (ResNet-18: 1.814 G; MobileNetV2: about 0.30 G).
PUBLISHED = {
    "resnet18": {"params": 11689512, "gmacs": 1.814},
    "mobilenet_v2": {"params": 3504872, "gmacs": 0.30},
}


def main(graceful, export_script, work_dir):
    failures = 0
    total = 0
    for name, published in PUBLISHED.items():
        facts = json.loads(subprocess.run(
            ["/usr/bin/python3", export_script, name, work_dir], check=True,
            capture_output=True, text=True).stdout.strip().splitlines()[-1])
        inspected = json.loads(subprocess.run(
            [graceful, "inspect", f"{work_dir}/{name}.onnx", "--json"], check=True,
            capture_output=True, text=True).stdout)
        checks = [
            ("params == published", inspected["params"] == published["params"]),
            ("params == torch", inspected["params"] == facts["params"]),
            ("macs == torch hooks", inspected["macs"] == facts["macs_per_sample"]),
            ("macs ~ published", abs(inspected["macs"] / 1e9 - published["gmacs"]) < 0.01),
            ("peak activation > input", inspected["peak_activation_bytes"] > 3 * 224 * 224 * 4),
        ]
        for label, ok in checks:
            print(f"{name}: {label}: {'ok' if ok else 'FAILED'} "
                  f"(params {inspected['params']:.0f}, macs {inspected['macs']:.0f})")
            failures += not ok
            total += 1
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
