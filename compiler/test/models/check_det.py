#!/usr/bin/python3
"""Det through `graceful run`, against ONNX Runtime and NumPy's
linalg.det: matrices of 1x1 to 8x8, in batches of one and two leading dims,
ones that need a row swap (a zero on the diagonal), singular ones (a
repeated row, a zero column, all zeros), a permutation (determinant -1),
values near float32's range, and NaN and infinity. Outputs agree to 1e-4
of their scale, NaN in the same places.

usage: check_det.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np

from differential import against_ort, finish, save_one_node_model


def special_matrices():
    swap = np.array([[0, 2, 1], [3, 1, 0], [1, 1, 1]], np.float32)
    repeated = np.array([[1, 2, 3], [4, 5, 6], [1, 2, 3]], np.float32)
    zero_column = np.array([[1, 0, 3], [4, 0, 6], [7, 0, 9]], np.float32)
    permutation = np.eye(4, dtype=np.float32)[[1, 0, 2, 3]]
    large = np.diag([1e12, 1e12, 1e12]).astype(np.float32)  # 1e36, near float32's limit
    with_nan = np.array([[1, np.nan], [2, 3]], np.float32)
    with_inf = np.array([[np.inf, 1], [0, 2]], np.float32)
    return [("a zero on the diagonal", swap), ("a repeated row", repeated),
            ("a zero column", zero_column), ("all zeros", np.zeros((3, 3), np.float32)),
            ("a row permutation", permutation), ("values near float32's range", large),
            ("a NaN", with_nan), ("an infinity", with_inf)]


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261201)
    cases = [(f"{n}x{n}", rng.standard_normal((n, n)).astype(np.float32)) for n in (1, 2, 3, 5, 8)]
    cases += [("a batch of 4 5x5", rng.standard_normal((4, 5, 5)).astype(np.float32)),
              ("a [2, 3] batch of 3x3", rng.standard_normal((2, 3, 3, 3)).astype(np.float32))]
    cases += special_matrices()
    failures = []
    for index, (label, x) in enumerate(cases):
        path = os.path.join(work, f"det{index}.onnx")
        expected = np.linalg.det(x.astype(np.float64)).astype(np.float32)
        save_one_node_model(path, "Det", [("x", np.float32, x.shape)],
                            [("y", np.float32, expected.shape)], opset=11)
        failures += against_ort(graceful, f"Det of {label}", path, [x], {"NumPy": [expected]})
    finish(f"{len(cases)} Det cases checked against ONNX Runtime and NumPy", failures)


if __name__ == "__main__":
    main()
