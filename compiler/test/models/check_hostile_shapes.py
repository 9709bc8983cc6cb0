#!/usr/bin/python3
"""Hostile sizes and values from an adversarial review, each a case that
crashed, hung or gave a wrong result, through `graceful run`:
- outputs whose element count overflows (ConstantOfShape of [2^40, 2^30],
  Tile by [2^33, 2^33], MaxUnpool to [1, 1, 2^31, 2^31]) fail with exit 2
  and one line naming the node;
- an empty int64 shape broadcast against one of size 1 (ONNX 1.12's data
  propagation read past its end) gives ONNX Runtime's empty result;
- Unique of values with NaN sorts NaN last, once, as NumPy does;
- RoiAlign of an image without pixels fails with exit 2; regions of no or
  negative size give 0, as ONNX Runtime gives;
- TfIdfVectorizer with a skip count of 2^40 finishes, equal to ONNX
  Runtime's with a skip count of the row's length; two n-grams given one
  column are refused.

usage: check_hostile_shapes.py GRACEFUL WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from differential import (RunFailed, against_ort, finish, graceful_outputs, judged, ort_outputs,
                          save_one_node_model)


def save(path, nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, "hostile", inputs, outputs,
                              initializer=[numpy_helper.from_array(a, n) for n, a in initializers])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def refused(graceful, work, label, path, arrays, node):
    """Failures unless graceful exits 2 with one line naming `node`."""
    command = [graceful, "run", path, "--output", os.path.join(work, "refused-out.npy")]
    for index, array in enumerate(arrays):
        command += ["--input", os.path.join(work, f"refused-in{index}.npy")]
        np.save(command[-1], array)
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, GRACEFUL_CACHE="off"))
    except subprocess.TimeoutExpired:
        print(f"FAIL {label}: hung", flush=True)
        return [f"{label}: no answer in 120 s"]
    lines = run.stderr.strip().splitlines()
    ok = run.returncode == 2 and len(lines) == 1 and f"node '{node}'" in lines[0]
    print(f"{'ok  ' if ok else 'FAIL'} {label} is refused", flush=True)
    return [] if ok else [f"{label}: exit {run.returncode}: {run.stderr.strip()}"]


def tensor(name, kind, shape):
    return helper.make_tensor_value_info(name, kind, shape)


def check_sizes(graceful, work):
    failures = []
    shape = np.array([2**40, 2**30], np.int64)
    path = save(os.path.join(work, "cos.onnx"),
                [helper.make_node("ConstantOfShape", ["s"], ["y"], name="fill")],
                [tensor("s", TensorProto.INT64, [2])], [tensor("y", TensorProto.FLOAT, [None, None])])
    failures += refused(graceful, work, "ConstantOfShape of [2^40, 2^30]", path, [shape], "fill")
    path = save(os.path.join(work, "tile.onnx"),
                [helper.make_node("Add", ["r", "zero"], ["repeats"], name="mk"),
                 helper.make_node("Tile", ["x", "repeats"], ["y"], name="tile")],
                [tensor("x", TensorProto.FLOAT, [2, 3]), tensor("r", TensorProto.INT64, [2])],
                [tensor("y", TensorProto.FLOAT, [None, None])],
                [("zero", np.zeros(1, np.int64))])
    failures += refused(graceful, work, "Tile by [2^33, 2^33]", path,
                        [np.ones((2, 3), np.float32), np.array([2**33, 2**33], np.int64)], "tile")
    path = os.path.join(work, "unpool.onnx")
    save_one_node_model(path, "MaxUnpool", [("x", np.float32, (1, 1, 2, 2)),
                                            ("i", np.int64, (1, 1, 2, 2))],
                        [("y", np.float32, [None] * 4)], opset=11,
                        constants=[("shape", np.array([1, 1, 2**31, 2**31], np.int64))],
                        kernel_shape=[2, 2], strides=[2, 2])
    failures += refused(graceful, work, "MaxUnpool to [1, 1, 2^31, 2^31]", path,
                        [np.ones((1, 1, 2, 2), np.float32), np.zeros((1, 1, 2, 2), np.int64)],
                        "probe")
    # An empty shape broadcast against [1]: ONNX Runtime gives an empty one.
    path = save(os.path.join(work, "empty.onnx"),
                [helper.make_node("Add", ["s", "one"], ["y"], name="add")],
                [tensor("s", TensorProto.INT64, [0])], [tensor("y", TensorProto.INT64, ["n"])],
                [("one", np.ones(1, np.int64))])
    failures += against_ort(graceful, "an empty int64 Add broadcast against [1]", path,
                            [np.zeros(0, np.int64)])
    return 4, failures


def check_values(graceful, work):
    failures = []
    x = np.array([2, np.nan, 0, 1, np.nan, 1], np.float32)
    path = save(os.path.join(work, "unique.onnx"),
                [helper.make_node("Unique", ["x"], ["y", "first", "inverse", "counts"],
                                  name="unique", sorted=1)],
                [tensor("x", TensorProto.FLOAT, [6])],
                [tensor("y", TensorProto.FLOAT, [None])] +
                [tensor(n, TensorProto.INT64, [None]) for n in ("first", "inverse", "counts")],
                opset=11)
    expected = [np.array([0, 1, 2, np.nan], np.float32), np.array([2, 3, 0, 1], np.int64),
                np.array([2, 3, 0, 1, 3, 1], np.int64), np.array([1, 2, 1, 2], np.int64)]
    try:
        failures += judged("Unique with NaN", graceful_outputs(graceful, path, [x], 4),
                           {"by hand (NumPy's order)": expected})
    except RunFailed as error:
        failures.append(f"Unique with NaN: {error}")
    image = np.random.default_rng(7).standard_normal((1, 2, 6, 6)).astype(np.float32)
    rois = np.array([[2, 2, 2, 2], [6, 6, 1, 1], [1, 1, 4, 5]], np.float32)
    for mode in ("avg", "max"):
        path = os.path.join(work, f"roi-{mode}.onnx")
        save_one_node_model(path, "RoiAlign", [("x", np.float32, image.shape),
                                               ("rois", np.float32, rois.shape),
                                               ("batch", np.int64, (3,))],
                            [("y", np.float32, (3, 2, 2, 2))], opset=16, mode=mode,
                            output_height=2, output_width=2)
        failures += against_ort(graceful, f"RoiAlign ({mode}) of empty and inverted regions", path,
                                [image, rois, np.zeros(3, np.int64)])
    path = os.path.join(work, "roi-empty.onnx")
    save_one_node_model(path, "RoiAlign", [("x", np.float32, (1, 2, 0, 5)),
                                           ("rois", np.float32, (1, 4)), ("batch", np.int64, (1,))],
                        [("y", np.float32, (1, 2, 2, 2))], opset=16, output_height=2,
                        output_width=2)
    failures += refused(graceful, work, "RoiAlign of an image without pixels", path,
                        [np.zeros((1, 2, 0, 5), np.float32), np.zeros((1, 4), np.float32),
                         np.zeros(1, np.int64)], "probe")
    return 4, failures


def check_tfidf(graceful, work):
    tokens = np.array([1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8], np.int32)
    attributes = dict(mode="TF", min_gram_length=2, max_gram_length=2, ngram_counts=[0, 4],
                      pool_int64s=[2, 3, 5, 4, 5, 6, 7, 8, 6, 7])
    paths = {}
    for skip in (2**40, len(tokens)):
        paths[skip] = os.path.join(work, f"tfidf-{skip}.onnx")
        save_one_node_model(paths[skip], "TfIdfVectorizer", [("x", np.int32, (12,))],
                            [("y", np.float32, (7,))], opset=9, max_skip_count=skip,
                            ngram_indexes=list(range(7)), **attributes)
    failures = []
    try:
        ours = graceful_outputs(graceful, paths[2**40], [tokens], 1)
        failures += judged("TfIdfVectorizer with 2^40 skips", ours,
                           {"ONNX Runtime at the row's length": ort_outputs(paths[12], [tokens])})
    except RunFailed as error:
        failures.append(f"TfIdfVectorizer with 2^40 skips: {error}")
    path = os.path.join(work, "tfidf-shared.onnx")
    save_one_node_model(path, "TfIdfVectorizer", [("x", np.int32, (12,))],
                        [("y", np.float32, (6,))], opset=9, max_skip_count=0,
                        ngram_indexes=[0, 1, 2, 3, 4, 5, 5], **attributes)
    failures += refused(graceful, work, "TfIdfVectorizer giving two n-grams one column", path,
                        [tokens], "probe")
    return 2, failures


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    counts, failures = zip(check_sizes(graceful, work), check_values(graceful, work),
                           check_tfidf(graceful, work))
    finish(f"{sum(counts)} hostile cases checked", [f for group in failures for f in group])


if __name__ == "__main__":
    main()
