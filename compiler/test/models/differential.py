"""Differential execution: one ONNX model run by graceful's JIT and by ONNX
Runtime (npm's onnxruntime-node, an independent executor), and the rule
that says whether two outputs agree.

Agreement, per output: the same shape and dtype; NaN in the same places;
infinities in the same places with the same signs; and every finite value
within `tolerance` times the output's scale (its largest finite magnitude,
or 1 when all finite values are zero), so that a model whose outputs are
tiny cannot pass by being close to zero.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, mapping, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_PATH = os.path.join(HERE, "..", "..", "..", "bench", "node_modules")


class RunFailed(Exception):
    """A run that did not produce outputs; the message says why."""


class _OrtServer:
    """One `node ort_run.js` for this process's runs, started on first use
    and again if it dies (a model that crashes ONNX Runtime fails that run
    alone)."""

    def __init__(self):
        self.process = None

    def ask(self, manifest):
        if self.process is None or self.process.poll() is not None:
            env = dict(os.environ, NODE_PATH=os.path.abspath(NODE_PATH))
            self.process = subprocess.Popen(
                ["node", os.path.join(HERE, "ort_run.js")], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            self.process.stdin.write(manifest + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            self.process.kill()
            error = self.process.stderr.read().strip()
            self.process = None
            raise RunFailed(f"ONNX Runtime died: {error[-500:]}")
        return json.loads(line)


_ORT = _OrtServer()


def ort_outputs(model, inputs, threads=0, optimize=True):
    """The outputs ONNX Runtime computes for `inputs` (arrays in graph
    order), as arrays in graph order; with optimize=False, without its
    graph rewrites."""
    with tempfile.TemporaryDirectory(prefix="ort-") as work:
        described = []
        for index, array in enumerate(inputs):
            array = np.ascontiguousarray(array)
            file = os.path.join(work, f"in{index}.bin")
            array.tofile(file)
            described.append({"file": file, "type": str(array.dtype), "dims": list(array.shape)})
        manifest = os.path.join(work, "manifest.json")
        with open(manifest, "w") as out:
            json.dump({"model": os.path.abspath(model), "inputs": described, "output_dir": work,
                       "threads": threads, "optimize": optimize}, out)
        answer = _ORT.ask(manifest)
        if "error" in answer:
            raise RunFailed(f"ONNX Runtime: {answer['error']}")
        outputs = []
        for output in answer["outputs"]:
            dtype = np.dtype("bool" if output["type"] == "bool" else output["type"])
            outputs.append(np.fromfile(output["file"], dtype=dtype).reshape(output["dims"]))
        return outputs


def graceful_outputs(graceful, model, inputs, output_count, extra_args=()):
    """The outputs `graceful run` computes for `inputs` (arrays in graph
    order), as arrays in graph order."""
    with tempfile.TemporaryDirectory(prefix="graceful-") as work:
        command = [graceful, "run", model, *extra_args]
        for index, array in enumerate(inputs):
            path = os.path.join(work, f"in{index}.npy")
            np.save(path, array)
            command += ["--input", path]
        paths = [os.path.join(work, f"out{index}.npy") for index in range(output_count)]
        for path in paths:
            command += ["--output", path]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            raise RunFailed(f"graceful (exit {run.returncode}): {run.stderr.strip()}")
        return [np.load(path) for path in paths]


def disagreement(ours, reference, tolerance=1e-4):
    """None when `ours` agrees with `reference` (see the module's rule),
    else a short reason. Also returns the relative error of finite values."""
    if ours.shape != reference.shape:
        return f"shape {ours.shape}, expected {reference.shape}", float("inf")
    if ours.dtype != reference.dtype:
        return f"dtype {ours.dtype}, expected {reference.dtype}", float("inf")
    if not np.issubdtype(reference.dtype, np.floating):
        wrong = int(np.count_nonzero(ours != reference))
        return (f"{wrong} values differ" if wrong else None), float(wrong)
    nan = np.isnan(reference)
    if not np.array_equal(np.isnan(ours), nan):
        return f"NaN at {int(np.isnan(ours).sum())} places, expected {int(nan.sum())}", float("inf")
    infinite = np.isinf(reference)
    if not np.array_equal(np.isinf(ours), infinite) or \
            not np.array_equal(ours[infinite], reference[infinite]):
        return "infinities differ", float("inf")
    finite = np.isfinite(reference)
    if not finite.any():
        return None, 0.0
    scale = float(np.abs(reference[finite]).max()) or 1.0
    error = float(np.abs(ours[finite].astype(np.float64) - reference[finite]).max()) / scale
    if error > tolerance:
        return f"max error {error:.2e} of scale {scale:.2e}", error
    return None, error


def onnx_type(dtype):
    """The ONNX element type of a NumPy dtype."""
    return mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype(dtype)]


def save_one_node_model(path, op, inputs, outputs, opset=17, constants=(), **attributes):
    """Writes a model of one node named 'probe' (inputs and outputs are
    (name, dtype, shape)); `constants` are (name, array) initializers the
    node reads after its inputs ('' for an omitted optional input). False,
    writing nothing, when ONNX's checker refuses it (the op's schema does
    not take a type)."""
    def info(name, dtype, shape):
        return helper.make_tensor_value_info(name, onnx_type(dtype), list(shape))
    names = [name for name, _, _ in inputs] + [name for name, _ in constants]
    initializers = [numpy_helper.from_array(np.asarray(array), name)
                    for name, array in constants if name]
    graph = helper.make_graph(
        [helper.make_node(op, names, [name for name, _, _ in outputs], name="probe",
                          **attributes)],
        op, [info(*spec) for spec in inputs], [info(*spec) for spec in outputs],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError):
        return False
    onnx.save(model, path)
    return True


class UndefinedInOnnx:
    """A case's reference where ONNX leaves the result undefined (ONNX
    Runtime's answer is then no judge): graceful's documented rule."""

    def __init__(self, reference):
        self.reference = reference

    def __call__(self, *inputs):
        return self.reference(*inputs)


class CaseTally:
    """What a run of single-node cases (see run_one_node_cases) found."""

    def __init__(self):
        self.failures, self.against_ort, self.against_numpy, self.not_onnx = [], 0, 0, 0


def run_one_node_cases(graceful, work, cases, tolerance, skip_refused=False):
    """Runs cases (label, op, attributes, inputs, (output dtype, shape),
    NumPy reference or None) as one-node models through graceful and
    ONNX Runtime; where ONNX Runtime has no kernel for the types, the NumPy
    reference judges. Models ONNX's checker refuses are skipped when
    skip_refused, else failures. Prints a line per case."""
    tally = CaseTally()
    for index, (label, op, attributes, inputs, (out_dtype, out_shape), reference) in \
            enumerate(cases):
        path = os.path.join(work, f"case{index}.onnx")
        names = ["x", "y", "z"][:len(inputs)]
        if not save_one_node_model(path, op, [(n, a.dtype, a.shape) for n, a in zip(names, inputs)],
                                   [("out", out_dtype, out_shape)], **attributes):
            if skip_refused:
                tally.not_onnx += 1
            else:
                tally.failures.append(f"{label}: ONNX's checker refuses the model")
            continue
        try:
            if isinstance(reference, UndefinedInOnnx):
                raise RunFailed("Could not find an implementation: the result is undefined")
            expected, judge = ort_outputs(path, inputs)[0], "ONNX Runtime"
        except RunFailed as error:
            if "Could not find an implementation" not in str(error) or reference is None:
                tally.failures.append(f"{label}: {error}")
                continue
            with np.errstate(all="ignore"):
                expected, judge = np.asarray(reference(*inputs)), "NumPy"
        try:
            ours = graceful_outputs(graceful, path, inputs, 1)[0]
        except RunFailed as error:
            tally.failures.append(f"{label}: {error}")
            continue
        wrong, error = disagreement(ours, expected, tolerance=tolerance)
        if judge == "NumPy":
            tally.against_numpy += 1
        else:
            tally.against_ort += 1
        if wrong:
            tally.failures.append(f"{label}: {wrong} from {judge}'s")
        print(f"{'FAIL' if wrong else 'ok  '} {label} (against {judge}, error {error:.1e})",
              flush=True)
    return tally


def judged(label, ours, references):
    """Failures of `ours` (arrays) against each judge's outputs in
    `references` ({judge: arrays}); prints the case's line."""
    wrong = [f"{label}: {judge}: {why}" for judge, theirs in references.items()
             for mine, other in zip(ours, theirs)
             for why in [disagreement(mine, other)[0]] if why]
    print(f"{'FAIL' if wrong else 'ok  '} {label}", flush=True)
    return wrong


def against_ort(graceful, label, path, inputs, others=None, output_count=1):
    """Failures of the model at `path` run by graceful on `inputs` against
    ONNX Runtime and each of `others` ({judge: arrays}); prints the case's
    line."""
    try:
        ours = graceful_outputs(graceful, path, inputs, output_count)
        reference = ort_outputs(path, inputs)
    except RunFailed as error:
        print(f"FAIL {label}", flush=True)
        return [f"{label}: {error}"]
    return judged(label, ours, {"ONNX Runtime": reference, **(others or {})})


def finish(summary, failures):
    """Prints the summary and the failures; exit 1 when there are any."""
    print(summary)
    if failures:
        print("\n".join(failures))
        sys.exit(1)
