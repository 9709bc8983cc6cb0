#!/usr/bin/python3
"""DFT and STFT (opset 17) through `graceful run`, against ONNX Runtime and
NumPy's FFT. DFT: real and complex signals, along an inner and an outer
axis, forward and inverse, onesided, and a dft_length that pads or
truncates the signal. STFT: real and complex signals, onesided or not
(ONNX 1.12's shape inference gave a onesided STFT frame_length bins), with
a window or a frame_length, frames that leave a remainder of the signal.
MelWeightMatrix: band counts, DFT lengths and sample rates of speech and
music front ends, float and integer outputs.
Outputs agree to 1e-4 of their scale.

usage: check_spectral.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

from differential import against_ort, finish, onnx_type, save_one_node_model


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
        failures += against_ort(graceful, f"STFT {label}", path, [x], {"NumPy": [expected]})
    return len(cases), failures


def numpy_mel(bands, dft_length, sample_rate, low, high):
    """The spec's reference: band edges spaced evenly on the mel scale."""
    mel = lambda hz: 2595 * np.log10(1 + hz / 700)
    points = mel(low) + np.arange(bands + 2) * (mel(high) - mel(low)) / (bands + 2)
    edges = np.floor((dft_length + 1) * 700 * (10 ** (points / 2595) - 1) / sample_rate)
    edges = edges.astype(int)
    weights = np.zeros((dft_length // 2 + 1, bands))
    for band in range(bands):
        left, centre, right = edges[band:band + 3]
        if centre == left:
            weights[centre, band] = 1
        for j in range(left, centre + 1 if centre > left else left):
            weights[j, band] = (j - left) / (centre - left)
        for j in range(centre, right):
            weights[j, band] = (right - j) / (right - centre)
    return weights


def check_mel(graceful, work):
    cases = [  # (bands, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, dtype)
        (8, 16, 8192, 0.0, 4096.0, np.float32),
        (40, 512, 16000, 20.0, 8000.0, np.float32),
        (128, 2048, 22050, 0.0, 11025.0, np.float32),
        (5, 64, 1000, 100.0, 400.0, np.float64),
        (10, 256, 16000, 300.0, 7000.0, np.int64),
    ]
    failures = []
    for index, (bands, length, rate, low, high, dtype) in enumerate(cases):
        label = f"MelWeightMatrix {bands} bands of a {length}-point DFT at {rate} Hz ({dtype.__name__})"
        expected = numpy_mel(bands, length, rate, low, high).astype(dtype)
        path = os.path.join(work, f"mel{index}.onnx")
        constants = [(name, np.array(value, kind)) for name, value, kind in
                     [("bands", bands, np.int64), ("length", length, np.int64),
                      ("rate", rate, np.int64), ("low", low, np.float32),
                      ("high", high, np.float32)]]
        graph = helper.make_graph(
            [helper.make_node("MelWeightMatrix", [name for name, _ in constants], ["y"],
                              output_datatype=onnx_type(dtype))],
            "mel", [], [helper.make_tensor_value_info("y", onnx_type(dtype), expected.shape)],
            initializer=[numpy_helper.from_array(array, name) for name, array in constants])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
        failures += against_ort(graceful, label, path, [], {"NumPy": [expected]})
    return len(cases), failures


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261201)
    stft_cases, failures = check_stft(graceful, work, rng)
    mel_cases, mel_failures = check_mel(graceful, work)
    failures += mel_failures
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
        failures += against_ort(graceful, f"DFT {label}", path, [x], {"NumPy": [expected]})
    finish(f"{len(cases)} DFT, {stft_cases} STFT and {mel_cases} MelWeightMatrix cases checked "
           "against ONNX Runtime and NumPy", failures)


if __name__ == "__main__":
    main()
