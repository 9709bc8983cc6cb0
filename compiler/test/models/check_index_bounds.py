#!/usr/bin/python3
"""Runtime indices (Gather, GatherElements, GatherND, ScatterElements,
ScatterND) and sequence lengths (ReverseSequence) through `graceful run`,
against ONNX Runtime.

Indices come from the user's data, so the compiled code must check each
one: in range (negative ones counting from the end) the outputs equal ONNX
Runtime's exactly; out of range by one, by far, or at the int64 and int32
limits, the run must fail with exit 2 and one line naming the node, the
index and the dim, write no output, and ONNX Runtime must refuse the same
input (so the case is invalid by an independent judge, not by ours). One
bad sample in the third of several compiled batches fails the whole run.

usage: check_index_bounds.py GRACEFUL WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

from differential import RunFailed, disagreement, graceful_outputs, ort_outputs

DATA_SHAPE = (5, 3)
INDEX_TYPES = {np.int64: TensorProto.INT64, np.int32: TensorProto.INT32}


def save_model(path, op, inputs, output_shape, **attributes):
    """A one-node model named 'probe' whose graph inputs are `inputs`
    (name, element type, shape); its output is float y."""
    graph = helper.make_graph(
        [helper.make_node(op, [name for name, _, _ in inputs], ["y"], name="probe", **attributes)],
        op, [helper.make_tensor_value_info(*spec) for spec in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def cases(dtype):
    """(op, attributes, index shape, output shape, updates shape or None,
    the dim of the data the indices address, in-range indices, a function
    placing one bad value into in-range indices)."""
    rows, columns = DATA_SHAPE

    def first(indices, value):
        bad = indices.copy()
        bad.flat[-1] = value
        return bad

    def column_of_last(indices, value):  # GatherND: the last tuple's second index
        bad = indices.copy()
        bad[-1, 1] = value
        return bad

    gather = np.array([0, 4, -1, -5], dtype)
    elements = np.array([[0, 1, 2], [-1, 3, -5]], dtype)
    tuples = np.array([[0, 2], [-1, -3]], dtype)
    rows_to_write = np.array([[1], [-2]], dtype)
    all_cases = [
        ("Gather", {"axis": 0}, gather.shape, [4, columns], None, rows, gather, first),
        ("GatherElements", {"axis": 0}, elements.shape, list(elements.shape), None, rows, elements,
         first),
        ("GatherND", {}, tuples.shape, [2], None, columns, tuples, column_of_last),
        ("ScatterElements", {"axis": 0}, elements.shape, [rows, columns], elements.shape, rows,
         elements, first),
        ("ScatterND", {}, rows_to_write.shape, [rows, columns], (2, columns), rows,
         rows_to_write, first),
    ]
    # GatherND and ScatterND take int64 indices only.
    return [case for case in all_cases if dtype == np.int64 or not case[0].endswith("ND")]


def bad_values(dtype, size):
    limits = np.iinfo(dtype)
    return [size, -size - 1, 1_000_003, int(limits.max), int(limits.min)]


def run_graceful(graceful, model, inputs, output):
    command = [graceful, "run", model, "--output", output]
    for path in inputs:
        command += ["--input", path]
    return subprocess.run(command, capture_output=True, text=True,
                          env=dict(os.environ, GRACEFUL_CACHE="off"))


def expect_refusal(graceful, work, model, arrays, value, dim, size):
    """None when graceful and ONNX Runtime both refuse `arrays`, graceful
    with exit 2 and one line naming node, index and dim; else why not."""
    paths = []
    for index, array in enumerate(arrays):
        paths.append(os.path.join(work, f"bad{index}.npy"))
        np.save(paths[-1], array)
    output = os.path.join(work, "bad-output.npy")
    run = run_graceful(graceful, model, paths, output)
    expected = (f"node 'probe' (", f"index {value} is out of range for dim {dim} of the data, "
                f"of size {size}")
    lines = run.stderr.strip().splitlines()
    if run.returncode != 2:
        return f"exit {run.returncode}, expected 2: {run.stderr.strip()}"
    if len(lines) != 1 or not all(part in lines[0] for part in expected):
        return f"error not one line naming node, index and dim: {run.stderr.strip()!r}"
    if os.path.exists(output):
        return "an output was written for a refused input"
    try:
        ort_outputs(model, arrays)
    except RunFailed:
        return None
    return "ONNX Runtime accepted the input graceful refused"


def check_case(graceful, work, dtype, case):
    op, attributes, index_shape, output_shape, updates_shape, dim_size, indices, place = case
    name = f"{op}-{np.dtype(dtype).name}"
    model = os.path.join(work, name + ".onnx")
    inputs = [("x", TensorProto.FLOAT, list(DATA_SHAPE)),
              ("i", INDEX_TYPES[dtype], list(index_shape))]
    if updates_shape:
        inputs.append(("u", TensorProto.FLOAT, list(updates_shape)))
    save_model(model, op, inputs, output_shape, **attributes)
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(DATA_SHAPE).astype(np.float32), indices]
    if updates_shape:
        arrays.append(rng.standard_normal(updates_shape).astype(np.float32))
    failures = []
    ours = graceful_outputs(graceful, model, arrays, 1)
    reason, _ = disagreement(ours[0], ort_outputs(model, arrays)[0], tolerance=0.0)
    if reason:
        failures.append(f"{name} in range: {reason}")
    dim = 1 if op == "GatherND" else 0
    for value in bad_values(dtype, dim_size):
        bad = [arrays[0], place(indices, value)] + arrays[2:]
        why = expect_refusal(graceful, work, model, bad, value, dim, dim_size)
        if why:
            failures.append(f"{name} index {value}: {why}")
    return failures


def check_batches(graceful, work):
    """A lookup table gathered by indices cast from the input, compiled for
    batches of 2: the sample holding 12 sits in the third batch. The node's
    name holds a {} of its own, which the error must keep."""
    model = os.path.join(work, "lookup.onnx")
    table = helper.make_tensor("table", TensorProto.FLOAT, [10, 2],
                               np.arange(20, dtype=np.float32).tolist())
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["i"], to=TensorProto.INT64),
         helper.make_node("Gather", ["table", "i"], ["y"], name="lookup{}", axis=0)],
        "lookup", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])], [table])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    good = np.array([0, 9, 3, -1, 2, 5, 7], np.float32)
    failures = []
    ours = graceful_outputs(graceful, model, [good], 1, extra_args=["--batch", "2"])
    reason, _ = disagreement(ours[0], ort_outputs(model, [good])[0], tolerance=0.0)
    if reason:
        failures.append(f"batched lookup in range: {reason}")
    bad = good.copy()
    bad[5] = 12
    path, output = os.path.join(work, "lookup-bad.npy"), os.path.join(work, "lookup-out.npy")
    np.save(path, bad)
    run = subprocess.run([graceful, "run", model, "--input", path, "--output", output,
                          "--batch", "2"], capture_output=True, text=True,
                         env=dict(os.environ, GRACEFUL_CACHE="off"))
    if run.returncode != 2 or "node 'lookup{}' (Gather): index 12" not in run.stderr \
            or os.path.exists(output):
        failures.append(f"batched lookup with 12 in batch 3: exit {run.returncode}, "
                        f"{run.stderr.strip()!r}")
    return failures


def check_sequence_lengths(graceful, work):
    """ReverseSequence reads x[len - 1 - t]: a length past the time axis
    would read outside x, a negative one is meaningless."""
    model = os.path.join(work, "reverse.onnx")
    save_model(model, "ReverseSequence", [("x", TensorProto.FLOAT, [4, 3]),
                                          ("lengths", TensorProto.INT64, [3])],
               [4, 3], time_axis=0, batch_axis=1)
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    good = np.array([4, 0, 2], np.int64)
    failures = []
    reason, _ = disagreement(graceful_outputs(graceful, model, [x, good], 1)[0],
                             ort_outputs(model, [x, good])[0], tolerance=0.0)
    if reason:
        failures.append(f"ReverseSequence in range: {reason}")
    for value in [5, -1, int(np.iinfo(np.int64).max)]:
        bad = good.copy()
        bad[1] = value
        paths = [os.path.join(work, "reverse-x.npy"), os.path.join(work, "reverse-bad.npy")]
        np.save(paths[0], x)
        np.save(paths[1], bad)
        run = run_graceful(graceful, model, paths, os.path.join(work, "reverse-out.npy"))
        expected = (f"node 'probe' (ReverseSequence): sequence length {value} is out of range "
                    "for 4 steps (valid: 0 to 4)")
        if run.returncode != 2 or run.stderr.strip() != "graceful: error: " + expected:
            failures.append(f"ReverseSequence length {value}: exit {run.returncode}, "
                            f"{run.stderr.strip()!r}")
        try:
            ort_outputs(model, [x, bad])
            failures.append(f"ReverseSequence length {value}: ONNX Runtime accepted it")
        except RunFailed:
            pass
    return failures


def check_empty_axis(graceful, work):
    """Gathering from an empty dim: no index is valid, refused at compile time."""
    model = os.path.join(work, "empty.onnx")
    save_model(model, "Gather", [("x", TensorProto.FLOAT, [0, 3]), ("i", TensorProto.INT64, [2])],
               [2, 3], axis=0)
    paths = [os.path.join(work, "empty-x.npy"), os.path.join(work, "empty-i.npy")]
    np.save(paths[0], np.zeros((0, 3), np.float32))
    np.save(paths[1], np.array([0, 0], np.int64))
    run = run_graceful(graceful, model, paths, os.path.join(work, "empty-out.npy"))
    if run.returncode != 2 or "node 'probe' (Gather): indexes dim 0 of the data, which is empty" \
            not in run.stderr:
        return [f"empty axis: exit {run.returncode}, {run.stderr.strip()!r}"]
    return []


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    failures, count = [], 0
    for dtype in INDEX_TYPES:
        for case in cases(dtype):
            failures += check_case(graceful, work, dtype, case)
            count += 1
    failures += check_batches(graceful, work) + check_sequence_lengths(graceful, work)
    failures += check_empty_axis(graceful, work)
    for failure in failures:
        print("FAIL", failure)
    print(f"{count} op and index type cases, batched lookup, sequence lengths, empty axis: "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
