#!/usr/bin/python3
"""Checks `graceful gate run --json` against an independent computation.

Trains small old/new model pairs on scikit-learn's digits with PyTorch
(a classifier pair and an embedding pair), exports them to ONNX, registers
them in a fresh SQLite registry, runs the nfr and compatibility gates, and
recomputes every metric here from PyTorch's own outputs with NumPy and
SciPy: counts must match exactly, rates to 1e-6.

The calibration gate (a plugin) is checked the same way.

usage: check_gate_metrics.py GRACEFUL_BINARY EXAMPLES_DIR PLUGIN_DIR
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch
from scipy import stats

warnings.filterwarnings("ignore")
graceful, examples, plugins = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, examples)
import make_examples as ex  # noqa: E402  (the examples' own training code)

failures = []


def file_digest(path):
    with open(path, "rb") as f:
        return "sha256:" + hashlib.sha256(f.read()).hexdigest()


def check(what, ours, theirs, exact=False):
    ok = ours == theirs if exact else abs(ours - theirs) <= 1e-6
    if not ok:
        failures.append(f"{what}: graceful {ours!r}, reference {theirs!r}")


def run(*args, expect=(0, 1)):
    result = subprocess.run([graceful, *args], capture_output=True, text=True)
    if result.returncode not in expect:
        sys.exit(f"graceful {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def gate(policy, candidate, baseline):
    result = run("gate", "run", "--policy", policy, "--candidate", candidate,
                 "--baseline", baseline, "--json", "--plugins", plugins)
    return json.loads(result.stdout)["gates"][0]


def nfr_reference(labels, old_logits, new_logits, confidence):
    old, new = old_logits.argmax(1), new_logits.argmax(1)  # numpy: first maximum
    n = len(labels)
    old_right, new_right = old == labels, new == labels
    negative = old_right & ~new_right
    positive = ~old_right & new_right
    er_old, er_new = 1 - old_right.mean(), 1 - new_right.mean()
    b, c = int(negative.sum()), int(positive.sum())
    both_wrong = int((~old_right & ~new_right).sum())
    return {
        "n": n, "negative_flips": b, "positive_flips": c,
        "error_rate_old": er_old, "error_rate_new": er_new,
        "nfr": b / n, "pfr": c / n,
        "relative_nfr": (b / n) / ((1 - er_old) * er_new),
        "btc": (old_right.sum() - b) / old_right.sum(),
        "bec": both_wrong / (~new_right).sum(),
        "nfr_upper": stats.beta.ppf(confidence, b + 1, n - b),
        "mcnemar_p": stats.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0,
    }, np.nonzero(negative)[0].tolist(), old, new


def ece_reference(logits, labels, bins=15):
    shifted = logits.astype(np.float64) - logits.max(1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(1, keepdims=True)
    confidence, predicted = probabilities.max(1), logits.argmax(1)
    which = np.minimum(bins - 1, (confidence * bins).astype(int))
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs((predicted[inside] == labels[inside]).mean()
                                       - confidence[inside].mean())
    return ece


def ranking_reference(queries, query_labels, gallery, gallery_labels, k):
    """top-1, top-k and mAP by sorting every row (ties: lower index first)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    scores = (q.astype(np.float64) @ g.T.astype(np.float64))
    top1 = topk = ap_sum = 0.0
    for i, row in enumerate(scores):
        order = np.lexsort((np.arange(len(row)), -row))
        relevant = gallery_labels[order] == query_labels[i]
        hits = np.nonzero(relevant)[0]
        top1 += relevant[0]
        topk += relevant[:k].any()
        ap_sum += np.mean(np.arange(1, len(hits) + 1) / (hits + 1)) if len(hits) else 0.0
    n = len(scores)
    return {"top1": top1 / n, f"top{k}": topk / n, "map": ap_sum / n}


class TwoInputClassifier(torch.nn.Module):
    """Pixels and an int64 id per sample (its ink, bucketed: the way text
    models take token ids beside features); exported with two inputs."""

    def __init__(self, hidden):
        super().__init__()
        self.ink = torch.nn.Embedding(10, 4)
        self.body = torch.nn.Sequential(torch.nn.Linear(64 + 4, hidden), torch.nn.ReLU(),
                                        torch.nn.Linear(hidden, 10))

    def forward(self, pixels, ink):
        return self.body(torch.cat([pixels, self.ink(ink)], 1))


def ink_buckets(x):
    total = x.sum(1)
    edges = np.quantile(total, np.linspace(0, 1, 11)[1:-1])
    return np.searchsorted(edges, total).astype(np.int64)


def train_two_input(hidden, x, ink, y, epochs, seed):
    torch.manual_seed(seed)
    model = TwoInputClassifier(hidden)
    ex.fit(model.parameters(),
           lambda batch: torch.nn.functional.cross_entropy(model(x[batch], ink[batch]), y[batch]),
           len(x), epochs, seed)
    return model.eval()


def check_two_inputs(work, x_train, x_eval, y_train, y_eval, confidence):
    """nfr on a two-input model, its data named per input; then promoted."""
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    ink_train, ink_eval = ink_buckets(x_train), ink_buckets(x_eval)
    it = torch.from_numpy(ink_train)
    logits = []
    for name, hidden, epochs, seed in [("old2", 8, 3, 51), ("new2", 32, 12, 52)]:
        model = train_two_input(hidden, xt, it, yt, epochs, seed)
        path = f"{work}/{name}.onnx"
        torch.onnx.export(model, (torch.zeros(1, 64), torch.zeros(1, dtype=torch.int64)), path,
                          input_names=["pixels", "ink"], output_names=["logits"],
                          dynamic_axes={"pixels": {0: "n"}, "ink": {0: "n"}, "logits": {0: "n"}},
                          opset_version=17)
        run("register", "two", "--onnx", path)
        with torch.no_grad():
            logits.append(model(torch.from_numpy(x_eval), torch.from_numpy(ink_eval)).numpy())
    np.save(f"{work}/ink.npy", ink_eval)
    np.save(f"{work}/ink_float.npy", ink_eval.astype(np.float32))
    reference, flipped, _, _ = nfr_reference(y_eval, logits[0], logits[1], confidence)

    def policy(name, data):
        with open(f"{work}/{name}", "w") as f:
            f.write(f"gates:\n  - nfr: {{{data}, labels: y.npy, max_nfr: 0.5, "
                    f"confidence: {confidence}}}\n")
        return f"{work}/{name}"

    named = policy("two.yaml", "named_inputs: {pixels: x.npy, ink: ink.npy}")
    result = gate(named, "two@2", "two@1")
    for key, value in reference.items():
        exact = key in ("n", "negative_flips", "positive_flips")
        check(f"two inputs {key}", result["metrics"][key], float(value), exact)
    check("two inputs flipped samples", result["evidence"]["flipped_samples"],
          [float(i) for i in flipped], exact=True)
    # Retrieval on two-input models: their logits as embeddings, half the
    # evaluation set as gallery, the other half as queries.
    half = len(y_eval) // 2
    for part, rows in [("g", slice(0, half)), ("q", slice(half, None))]:
        np.save(f"{work}/{part}_pixels.npy", x_eval[rows])
        np.save(f"{work}/{part}_ink.npy", ink_eval[rows])
        np.save(f"{work}/{part}_y.npy", y_eval[rows])
    with open(f"{work}/two_compat.yaml", "w") as f:
        f.write("gates:\n  - compatibility:\n"
                "      gallery: {named_inputs: {pixels: g_pixels.npy, ink: g_ink.npy}, "
                "labels: g_y.npy}\n"
                "      queries: {named_inputs: {pixels: q_pixels.npy, ink: q_ink.npy}, "
                "labels: q_y.npy}\n"
                "      measure: top5\n")
    compat = gate(f"{work}/two_compat.yaml", "two@2", "two@1")["metrics"]
    for pair, (queries, gallery) in {"old_old": (logits[0], logits[0]),
                                     "new_old": (logits[1], logits[0]),
                                     "new_new": (logits[1], logits[1])}.items():
        expected = ranking_reference(queries[half:], y_eval[half:], gallery[:half],
                                     y_eval[:half], 5)["top5"]
        check(f"two inputs compatibility {pair}", compat[pair], expected)
    promoted = run("promote", "two@2", "--to", "production", "--policy", named, "--json")
    check("two inputs promotion", promoted.returncode, 0 if result["verdict"] == "pass" else 1,
          exact=True)
    # Data that does not fit the inputs: one clear line, exit 2.
    for name, data, message in [
            ("two_missing.yaml", "named_inputs: {pixels: x.npy}", "no samples for input 'ink'"),
            ("two_unknown.yaml", "named_inputs: {pixels: x.npy, ink: ink.npy, mask: ink.npy}",
             "has no input 'mask' (inputs: pixels, ink)"),
            ("two_unnamed.yaml", "inputs: x.npy", "has 2 inputs (pixels, ink)"),
            ("two_dtype.yaml", "named_inputs: {pixels: x.npy, ink: ink_float.npy}",
             "takes input 'ink' of int64[?]"),
            ("two_both.yaml", "inputs: x.npy, named_inputs: {pixels: x.npy, ink: ink.npy}",
             "give inputs or named_inputs, not both")]:
        refused = run("gate", "run", "--policy", policy(name, data), "--candidate", "two@2",
                      "--baseline", "two@1", expect=(2,))
        if message not in refused.stderr or refused.stderr.count("\n") != 1:
            failures.append(f"{name}: expected one line with {message!r}, got {refused.stderr!r}")
    print(f"two-input nfr: {reference['negative_flips']} negative flips of {reference['n']}, "
          f"verdict {result['verdict']}; top5 new/old {compat['new_old']:.4f}")


def main():
    x_train, x_eval, y_train, y_eval = ex.digits()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xe = torch.from_numpy(x_eval)
    work = tempfile.mkdtemp(prefix="graceful-metrics-")
    os.environ["GRACEFUL_STORE"] = f"sqlite:{work}/registry.db"
    run("init")

    # Classifiers: a small old one and an independently trained new one.
    old = ex.train_classifier([64, 10, 10], xt, yt, epochs=4, seed=31)
    new = ex.train_classifier([64, 48, 10], xt, yt, epochs=15, seed=32)
    for name, model in [("old", old), ("new", new)]:
        ex.export(model, f"{work}/{name}.onnx", "logits")
        run("register", "clf", "--onnx", f"{work}/{name}.onnx")
    np.save(f"{work}/x.npy", x_eval)
    np.save(f"{work}/y.npy", y_eval)
    with torch.no_grad():
        old_logits, new_logits = old(xe).numpy(), new(xe).numpy()
    confidence = 0.9
    reference, flipped, old_pred, new_pred = nfr_reference(y_eval, old_logits, new_logits,
                                                           confidence)
    with open(f"{work}/nfr.yaml", "w") as f:
        f.write(f"gates:\n  - nfr: {{inputs: x.npy, labels: y.npy, max_nfr: 0.5, "
                f"confidence: {confidence}}}\n")
    np.save(f"{work}/old_logits.npy", old_logits)
    np.save(f"{work}/new_logits.npy", new_logits)
    with open(f"{work}/nfr_precomputed.yaml", "w") as f:
        f.write(f"gates:\n  - nfr: {{labels: y.npy, old_outputs: old_logits.npy, "
                f"new_outputs: new_logits.npy, confidence: {confidence}, "
                f"old_outputs_model: '{file_digest(f'{work}/old.onnx')}', "
                f"new_outputs_model: '{file_digest(f'{work}/new.onnx')}'}}\n")
    for policy in ("nfr.yaml", "nfr_precomputed.yaml"):
        result = gate(f"{work}/{policy}", "clf@2", "clf@1")
        metrics = result["metrics"]
        for key, value in reference.items():
            exact = key in ("n", "negative_flips", "positive_flips")
            check(f"{policy} {key}", metrics[key], float(value), exact)
        check(f"{policy} flipped samples", result["evidence"]["flipped_samples"],
              [float(i) for i in flipped], exact=True)
        matrix = {(int(e["old"]), int(e["new"])): int(e["count"])
                  for e in result["evidence"]["flip_matrix"]}
        expected = {}
        for i in flipped:
            key = (int(old_pred[i]), int(new_pred[i]))
            expected[key] = expected.get(key, 0) + 1
        check(f"{policy} flip matrix", matrix, expected, exact=True)
        for row in result["evidence"]["per_class"]:
            label = int(row["class"])
            in_class = y_eval == label
            flips = int(np.isin(np.nonzero(in_class)[0], flipped).sum())
            check(f"{policy} class {label} flips", int(row["negative_flips"]), flips, exact=True)
            check(f"{policy} class {label} nfr", row["nfr"], flips / in_class.sum())
    with open(f"{work}/calibration.yaml", "w") as f:
        f.write("gates:\n  - calibration: {inputs: x.npy, labels: y.npy, max_ece_increase: 1.0}\n")
    metrics = gate(f"{work}/calibration.yaml", "clf@2", "clf@1")["metrics"]
    ece_old, ece_new = ece_reference(old_logits, y_eval), ece_reference(new_logits, y_eval)
    check("calibration ece_old", metrics["ece_old"], ece_old)
    check("calibration ece_new", metrics["ece_new"], ece_new)
    check("calibration ece_increase", metrics["ece_increase"], ece_new - ece_old)
    print(f"calibration (plugin): ece old {ece_old:.6f}, new {ece_new:.6f}")
    print(f"nfr: {reference['negative_flips']} negative flips of {reference['n']}, "
          f"nfr_upper {reference['nfr_upper']:.6f}, mcnemar_p {reference['mcnemar_p']:.6f}")

    check_two_inputs(work, x_train, x_eval, y_train, y_eval, confidence)

    # Embeddings: an old model and an independently trained new one.
    old_emb, _ = ex.train_embedding([64, 32, 16], xt, yt, epochs=2, seed=41)
    new_emb, _ = ex.train_embedding([64, 32, 16], xt, yt, epochs=6, seed=42)
    for name, model in [("old_emb", old_emb), ("new_emb", new_emb)]:
        ex.export(model, f"{work}/{name}.onnx", "embedding")
        run("register", "emb", "--onnx", f"{work}/{name}.onnx")
    gallery_x, gallery_y = x_train[:600], y_train[:600]
    np.save(f"{work}/gx.npy", gallery_x)
    np.save(f"{work}/gy.npy", gallery_y)
    with torch.no_grad():
        embed = {name: (m(torch.from_numpy(gallery_x)).numpy(), m(xe).numpy())
                 for name, m in [("old", old_emb), ("new", new_emb)]}
    pairs = {"old_old": (embed["old"][1], embed["old"][0]),
             "new_old": (embed["new"][1], embed["old"][0]),
             "new_new": (embed["new"][1], embed["new"][0])}
    refs = {pair: ranking_reference(q, y_eval, g, gallery_y, 5) for pair, (q, g) in pairs.items()}
    for measure in ("top1", "top5", "map"):
        with open(f"{work}/compat_{measure}.yaml", "w") as f:
            f.write("gates:\n  - compatibility:\n"
                    "      gallery: {inputs: gx.npy, labels: gy.npy}\n"
                    "      queries: {inputs: x.npy, labels: y.npy}\n"
                    f"      measure: {measure}\n")
        metrics = gate(f"{work}/compat_{measure}.yaml", "emb@2", "emb@1")["metrics"]
        for pair in pairs:
            check(f"compatibility {measure} {pair}", metrics[pair], refs[pair][measure])
        gain = (refs["new_old"][measure] - refs["old_old"][measure]) / \
            (refs["new_new"][measure] - refs["old_old"][measure])
        # The gain divides two small differences, so rounding in the
        # measures (float32 scores) grows: its own formula is checked
        # exactly, the reference to a relative 1e-4.
        own = (metrics["new_old"] - metrics["old_old"]) / (metrics["new_new"] - metrics["old_old"])
        check(f"compatibility {measure} update_gain formula", metrics["update_gain"], own)
        if abs(metrics["update_gain"] - gain) > 1e-4 * abs(gain):
            failures.append(f"compatibility {measure} update_gain: {metrics['update_gain']} "
                            f"vs reference {gain}")
        print(f"compatibility {measure}: old/old {refs['old_old'][measure]:.4f} "
              f"new/old {refs['new_old'][measure]:.4f} new/new {refs['new_new'][measure]:.4f}, "
              f"update gain {gain:.4f}")

    if failures:
        sys.exit("MISMATCH\n" + "\n".join(failures))
    print("all gate metrics match the independent computation")


main()
