#!/usr/bin/python3
"""DFT (opset 17) through `graceful run`, against ONNX Runtime and NumPy's
FFT: real and complex signals, along an inner and an outer axis, forward
and inverse, onesided, and a dft_length that pads or truncates the signal.
Outputs agree to 1e-4 of their scale.

usage: check_spectral.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np

from differential import RunFailed, finish, graceful_outputs, judged, ort_outputs, save_one_node_model


def numpy_dft(x, axis, inverse, onesided, length):
    signal = x[..., 0] + (1j * x[..., 1] if x.shape[-1] == 2 else 0)
    spectrum = (np.fft.ifft if inverse else np.fft.fft)(signal, n=length, axis=axis)
    if onesided:
        spectrum = np.take(spectrum, range(length // 2 + 1), axis=axis)
    return np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261201)
    failures = []
    cases = [  # (label, shape, axis, inverse, onesided, dft_length or None)
        ("real, axis 1", (2, 12, 3, 1), 1, 0, 0, None),
        ("real, axis 2, onesided", (2, 3, 13, 1), 2, 0, 1, None),
        ("complex, inverse", (2, 9, 2), 1, 1, 0, None),
        ("complex, padded to 16", (3, 10, 2), 1, 0, 0, 16),
        ("real, truncated to 6", (1, 10, 1), 1, 0, 0, 6),
        ("complex, long", (1, 256, 2), 1, 0, 0, None),
    ]
    for index, (label, shape, axis, inverse, onesided, length) in enumerate(cases):
        x = rng.standard_normal(shape).astype(np.float32)
        n = length or shape[axis]
        expected = numpy_dft(x, axis, inverse, onesided, n)
        path = os.path.join(work, f"dft{index}.onnx")
        constants = [("length", np.array(length, np.int64))] if length else []
        if not save_one_node_model(path, "DFT", [("x", np.float32, shape)],
                                   [("y", np.float32, expected.shape)], constants=constants,
                                   axis=axis, inverse=inverse, onesided=onesided):
            failures.append(f"{label}: ONNX's checker refuses the model")
            continue
        try:
            ours = graceful_outputs(graceful, path, [x], 1)[0]
            reference = ort_outputs(path, [x])[0]
        except RunFailed as error:
            failures.append(f"{label}: {error}")
            continue
        failures += judged(f"DFT {label}", [ours],
                           {"ONNX Runtime": [reference], "NumPy": [expected]})
    finish(f"{len(cases)} DFT cases checked against ONNX Runtime and NumPy", failures)


if __name__ == "__main__":
    main()
