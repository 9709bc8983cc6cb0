#!/usr/bin/python3
"""DFT and STFT (opset 17) through `graceful run`, against ONNX Runtime and
NumPy's FFT. DFT: real and complex signals, along an inner and an outer
axis, forward and inverse, onesided, and a dft_length that pads or
truncates the signal. STFT: real and complex signals, onesided or not
(ONNX 1.12's shape inference gave a onesided STFT frame_length bins), with
a window or a frame_length, frames that leave a remainder of the signal.
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


def numpy_stft(x, step, window, length, onesided):
    signal = x[..., 0] + (1j * x[..., 1] if x.shape[-1] == 2 else 0)
    frames = (signal.shape[1] - length) // step + 1
    taper = np.ones(length) if window is None else window
    cut = np.stack([signal[:, f * step:f * step + length] * taper for f in range(frames)], axis=1)
    spectrum = np.fft.fft(cut, axis=2)[:, :, :length // 2 + 1 if onesided else length]
    return np.stack([spectrum.real, spectrum.imag], axis=-1).astype(np.float32)


def compared(graceful, label, path, inputs, expected):
    """Failures of the model at `path` against ONNX Runtime and NumPy."""
    try:
        ours = graceful_outputs(graceful, path, inputs, 1)[0]
        reference = ort_outputs(path, inputs)[0]
    except RunFailed as error:
        return [f"{label}: {error}"]
    return judged(label, [ours], {"ONNX Runtime": [reference], "NumPy": [expected]})


def check_stft(graceful, work, rng):
    cases = [  # (label, signal shape, frame_step, windowed, frame_length, onesided or absent)
        ("real, onesided, frame_length", (2, 64, 1), 8, False, 16, 1),
        ("real, onesided, Hann window", (1, 70, 1), 6, True, 16, 1),
        ("real, two-sided, window", (1, 40, 1), 5, True, 10, 0),
        ("complex, two-sided", (2, 33, 2), 4, False, 9, 0),
        ("real, onesided by default", (1, 50, 1), 7, False, 12, None),
    ]
    failures = []
    for index, (label, shape, step, windowed, length, onesided) in enumerate(cases):
        x = rng.standard_normal(shape).astype(np.float32)
        window = np.hanning(length + 1)[:-1].astype(np.float32) if windowed else None
        expected = numpy_stft(x, step, window, length, onesided != 0)
        path = os.path.join(work, f"stft{index}.onnx")
        constants = [("step", np.array(step, np.int64)),
                     ("window" if windowed else "", window),
                     ("length", np.array(length, np.int64))]
        # The output's dims are left open: ONNX 1.12's checker infers
        # frame_length bins for a onesided STFT and refuses the right ones.
        if not save_one_node_model(path, "STFT", [("x", np.float32, shape)],
                                   [("y", np.float32, [None] * 4)], constants=constants,
                                   **({} if onesided is None else {"onesided": onesided})):
            failures.append(f"STFT {label}: ONNX's checker refuses the model")
            continue
        failures += compared(graceful, f"STFT {label}", path, [x], expected)
    return len(cases), failures


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261201)
    stft_cases, failures = check_stft(graceful, work, rng)
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
        failures += compared(graceful, f"DFT {label}", path, [x], expected)
    finish(f"{len(cases)} DFT and {stft_cases} STFT cases checked against ONNX Runtime and NumPy",
           failures)


if __name__ == "__main__":
    main()
