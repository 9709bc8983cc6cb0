#!/usr/bin/python3
"""Quantized ops (the ones an int8 or uint8 edge model is made of) through
`graceful run`, against ONNX Runtime: QuantizeLinear and DequantizeLinear
(per tensor and per axis), DynamicQuantizeLinear, MatMulInteger,
ConvInteger, QLinearMatMul and QLinearConv, with uint8 and int8 data, zero
points away from 0 and scales as a converter writes them (initializers).

Integer outputs must equal ONNX Runtime's exactly, except that a
requantized value may differ by one step where the exact product sits on a
rounding tie (ONNX Runtime's kernels requantize in fixed point): at most
that, and on at most 1% of the values. Float outputs agree to 1e-6 of their
scale.

Then a model made the way users make one: a small convolutional network
trained for a few steps with torch's quantization-aware training and
exported with torch.onnx.export (QuantizeLinear/DequantizeLinear pairs
around every convolution), run on scikit-learn's digits. It is compared
with ONNX Runtime with its graph rewrites off: on, they fuse the pairs into
fixed-point integer kernels that approximate what the spec defines (the
difference is printed).

usage: check_quantized.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np

from differential import (RunFailed, disagreement, finish, graceful_outputs, ort_outputs,
                          save_one_node_model)


def quantized(rng, dtype, shape):
    limits = np.iinfo(dtype)
    return rng.integers(limits.min, limits.max, size=shape, dtype=dtype, endpoint=True)


def cases(rng):
    """(label, op, attributes, graph inputs, constants, output dtypes and shapes)."""
    x = (rng.standard_normal((2, 3, 4, 4)) * 3).astype(np.float32)
    for dtype in (np.uint8, np.int8):
        name = np.dtype(dtype).name
        zero = np.array(7 if dtype == np.int8 else 131, dtype)
        yield (f"QuantizeLinear {name}", "QuantizeLinear", {}, [x],
               [("s", np.float32(0.05)), ("z", zero)], [(dtype, x.shape)])
        per_channel = np.array([0.02, 0.05, 0.1], np.float32)
        zeros = np.array([1, 9, 100 if dtype == np.uint8 else -100], dtype)
        yield (f"QuantizeLinear {name} per channel", "QuantizeLinear", {"axis": 1}, [x],
               [("s", per_channel), ("z", zeros)], [(dtype, x.shape)])
        q = quantized(rng, dtype, x.shape)
        yield (f"DequantizeLinear {name} per channel", "DequantizeLinear", {"axis": 1}, [q],
               [("s", per_channel), ("z", zeros)], [(np.float32, x.shape)])
        a, b = quantized(rng, dtype, (2, 5, 16)), quantized(rng, dtype, (16, 6))
        a_zero, b_zero = np.array(3, dtype), np.array(250 if dtype == np.uint8 else -5, dtype)
        yield (f"MatMulInteger {name}", "MatMulInteger", {}, [a, b],
               [("az", a_zero), ("bz", b_zero)], [(np.int32, (2, 5, 6))])
        w = quantized(rng, np.int8 if dtype == np.int8 else np.uint8, (4, 3, 3, 3))
        yield (f"ConvInteger {name}, padded", "ConvInteger", {"pads": [1, 1, 1, 1]}, [q, w],
               [("xz", zero), ("wz", np.array(2, w.dtype))], [(np.int32, (2, 4, 4, 4))])
        scales = [("as", np.float32(0.02)), ("az", a_zero), ("b", b), ("bs", np.float32(0.03)),
                  ("bz", b_zero), ("ys", np.float32(0.5)), ("yz", zero)]
        yield (f"QLinearMatMul {name}", "QLinearMatMul", {}, [a[0]], scales, [(dtype, (5, 6))])
        conv = [("xs", np.float32(0.02)), ("xz", zero), ("w", w),
                ("ws", np.array([0.01, 0.02, 0.03, 0.04], np.float32)),
                ("wz", np.zeros(4, w.dtype)), ("ys", np.float32(0.3)), ("yz", zero),
                ("bias", rng.integers(-500, 500, size=4).astype(np.int32))]
        yield (f"QLinearConv {name}, strided, per-channel filters", "QLinearConv",
               {"pads": [1, 1, 1, 1], "strides": [2, 2]}, [q], conv, [(dtype, (2, 4, 2, 2))])
    yield ("DynamicQuantizeLinear", "DynamicQuantizeLinear", {}, [x], [],
           [(np.uint8, x.shape), (np.float32, ()), (np.uint8, ())])
    with_nan = x.copy()
    with_nan.reshape(-1)[[0, 7]] = np.nan  # NaN takes no part in the range
    yield ("DynamicQuantizeLinear, with NaN", "DynamicQuantizeLinear", {}, [with_nan], [],
           [(np.uint8, x.shape), (np.float32, ()), (np.uint8, ())])
    positive = np.abs(x) + 1  # the range must still include 0
    yield ("DynamicQuantizeLinear, all positive", "DynamicQuantizeLinear", {}, [positive], [],
           [(np.uint8, x.shape), (np.float32, ()), (np.uint8, ())])


def requantization_agrees(ours, reference):
    """None when integer outputs differ by at most one step on at most 1%."""
    if ours.shape != reference.shape or ours.dtype != reference.dtype:
        return f"{ours.dtype}{list(ours.shape)}, expected {reference.dtype}{list(reference.shape)}"
    steps = np.abs(ours.astype(np.int64) - reference.astype(np.int64))
    if steps.max(initial=0) > 1 or np.count_nonzero(steps) > 0.01 * steps.size:
        return f"{np.count_nonzero(steps)} of {steps.size} values differ, by up to {steps.max()}"
    return None


def check_ops(graceful, work, rng):
    failures, checked = [], 0
    for index, (label, op, attributes, inputs, constants, outputs) in enumerate(cases(rng)):
        path = os.path.join(work, f"case{index}.onnx")
        names = ["x", "y"][:len(inputs)]
        if not save_one_node_model(path, op, [(n, a.dtype, a.shape) for n, a in zip(names, inputs)],
                                   [(f"out{i}", d, s) for i, (d, s) in enumerate(outputs)],
                                   constants=constants, **attributes):
            failures.append(f"{label}: ONNX's checker refuses the model")
            continue
        try:
            expected = ort_outputs(path, inputs)
            ours = graceful_outputs(graceful, path, inputs, len(outputs))
        except RunFailed as error:
            failures.append(f"{label}: {error}")
            continue
        checked += 1
        for mine, theirs in zip(ours, expected):
            if np.issubdtype(theirs.dtype, np.integer):
                wrong = requantization_agrees(mine, theirs)
            else:
                wrong, _ = disagreement(mine, theirs, tolerance=1e-6)
            if wrong:
                failures.append(f"{label}: {wrong}")
        print(f"{'FAIL' if failures and failures[-1].startswith(label) else 'ok  '} {label}",
              flush=True)
    return checked, failures


def check_qat_model(graceful, work):
    """A QAT-trained CNN on digits, exported by torch: logits agree."""
    import torch
    from sklearn.datasets import load_digits
    torch.manual_seed(0)
    digits = load_digits()
    images = torch.tensor(digits.images[:512, None] / 16.0, dtype=torch.float32)
    labels = torch.tensor(digits.target[:512])
    model = torch.nn.Sequential(
        torch.ao.quantization.QuantStub(), torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(16 * 4 * 4, 10), torch.ao.quantization.DeQuantStub())
    # Fake quantization per tensor for activations, per channel for weights
    # (symmetric int8), as torch's default QAT config for x86 has it.
    model.qconfig = torch.ao.quantization.QConfig(
        activation=torch.ao.quantization.FakeQuantize.with_args(
            observer=torch.ao.quantization.MovingAverageMinMaxObserver, quant_min=0,
            quant_max=255),
        weight=torch.ao.quantization.default_per_channel_weight_fake_quant)
    torch.ao.quantization.prepare_qat(model.train(), inplace=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    model.apply(torch.ao.quantization.disable_observer).eval()
    path = os.path.join(work, "qat_digits.onnx")
    torch.onnx.export(model, images[:8], path, input_names=["image"], output_names=["logits"],
                      opset_version=13)
    sample = images[8:16].numpy()
    expected = ort_outputs(path, [sample], optimize=False)[0]
    fused = ort_outputs(path, [sample])[0]
    ours = graceful_outputs(graceful, path, [sample], 1)[0]
    wrong, error = disagreement(ours, expected, tolerance=1e-4)
    _, fused_error = disagreement(ours, fused, tolerance=1.0)
    print(f"{'FAIL' if wrong else 'ok  '} QAT digits CNN exported by torch: error {error:.1e} "
          f"against ONNX Runtime running the QDQ pairs as specified ({fused_error:.1e} against "
          f"its fused fixed-point kernels, an approximation of them)")
    return [f"QAT digits CNN: {wrong}"] if wrong else []


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    checked, failures = check_ops(graceful, work, np.random.default_rng(20261201))
    failures += check_qat_model(graceful, work)
    finish(f"{checked} quantized op cases and 1 exported QAT model checked against ONNX Runtime",
           failures)


if __name__ == "__main__":
    main()
