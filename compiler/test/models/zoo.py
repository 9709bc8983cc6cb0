#!/usr/bin/python3
"""The model zoo against ONNX Runtime: torchvision's classification models,
exported the ways users export them, run by `graceful run` and by ONNX
Runtime on the same inputs (see differential.py for what "agree" means).

Weights are random (nothing is downloaded), but made non-trivial the way
training makes them: every BatchNorm and LayerNorm gets a random affine
scale and shift, BatchNorm statistics are calibrated on a few random
batches in training mode (so the biases a folded export carries are
non-zero and activations keep their scale through deep networks), and
layers initialised to zero (ViT's head) get random weights. Outputs that
do not vary are a failure of the check itself, never a pass.

Variants (each at every batch asked for):
  folded   eval mode, torch.onnx.export's defaults (constant folding folds
           every BatchNorm into its convolution), opset 13, dynamic batch
  bn       BatchNormalization nodes preserved, opset 13, dynamic batch
  opset11  as folded at opset 11
  opset17  as folded at opset 17 (LayerNormalization is one op)
  static   as folded, exported once per batch with a fixed batch size

usage: zoo.py GRACEFUL WORK_DIR [--models all|NAME,...] [--variants V,...]
              [--batches 1,3,8] [--size N] [--table OUT.md] [--keep]
              [--results RESULTS.jsonl]
With --results, each model and variant checked is appended to RESULTS as
one JSON line, and a model and variant already there (at the same batches
and size) is not checked again: a run of the whole zoo takes hours, and
one stopped part way goes on where it stopped.
Exit status 1 when any run disagrees or fails on our side.
"""
import argparse
import json
import os
import shutil
import sys
import time
import warnings

import numpy as np
import onnx
import torch
import torchvision

from differential import RunFailed, disagreement, graceful_outputs, ort_outputs

VARIANTS = {
    "folded": dict(opset=13, preserve_bn=False, dynamic=True),
    "bn": dict(opset=13, preserve_bn=True, dynamic=True),
    "opset11": dict(opset=11, preserve_bn=False, dynamic=True),
    "opset17": dict(opset=17, preserve_bn=False, dynamic=True),
    "static": dict(opset=13, preserve_bn=False, dynamic=False),
}
# Input sizes the architectures require (position embeddings, windows);
# the others take --size.
FIXED_SIZES = {"vit_b_16": 224, "vit_b_32": 224, "vit_l_16": 224, "vit_l_32": 224,
               "vit_h_14": 224, "maxvit_t": 224, "swin_t": 224, "swin_s": 224, "swin_b": 224,
               "swin_v2_t": 256, "swin_v2_s": 256, "swin_v2_b": 256}
MIN_SIZES = {"inception_v3": 75, "googlenet": 64}
# A protobuf holds at most 2 GiB: these export only with external data.
TOO_LARGE = {"vit_h_14", "regnet_y_128gf"}


def classification_models():
    return torchvision.models.list_models(module=torchvision.models)


def make_nontrivial(model, size, seed):
    """Random affine normalization and calibrated BatchNorm statistics."""
    generator = torch.Generator().manual_seed(seed)
    norms = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm, torch.nn.GroupNorm)
    for module in model.modules():
        # Some heads start at zero (ViT's): outputs would be 0 whatever the input.
        for name in ("weight", "bias"):
            parameter = getattr(module, name, None)
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)) and \
                    isinstance(parameter, torch.Tensor) and not parameter.any():
                with torch.no_grad():
                    parameter.normal_(0, 0.05, generator=generator)
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the calibration batches
        if isinstance(module, norms) and getattr(module, "weight", None) is not None:
            with torch.no_grad():
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.5)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, size, size, generator=generator))
    return model.eval()


def build(name, size, seed):
    torch.manual_seed(seed)
    kwargs = {"aux_logits": False, "init_weights": True} if name in ("inception_v3",
                                                                      "googlenet") else {}
    model = getattr(torchvision.models, name)(weights=None, **kwargs)
    return make_nontrivial(model, size, seed)


def export(model, variant, batch, size, path):
    settings = VARIANTS[variant]
    example = torch.randn(batch, 3, size, size)
    dynamic = {"image": {0: "batch"}, "logits": {0: "batch"}} if settings["dynamic"] else None
    training = (torch.onnx.TrainingMode.PRESERVE if settings["preserve_bn"]
                else torch.onnx.TrainingMode.EVAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, path, input_names=["image"], output_names=["logits"],
                          dynamic_axes=dynamic, opset_version=settings["opset"], training=training)
    onnx.checker.check_model(path)


def check_variant(graceful, model, name, variant, batches, size, work, seed):
    """{batch: (verdict, detail)} where verdict is ok, FAILED or n/a (the
    export itself failed in torch: nothing of ours ran)."""
    results = {}
    rng = np.random.default_rng(seed)
    path = None
    for batch in batches:
        if path is None or not VARIANTS[variant]["dynamic"]:
            path = os.path.join(work, f"{name}.{variant}.b{batch}.onnx")
            try:
                export(model, variant, batch, size, path)
            except Exception as error:  # torch's exporter: not our failure
                detail = str(error).strip().splitlines()
                results.update({b: ("n/a", f"export: {detail[0] if detail else error}")
                                for b in batches if b not in results})
                return results
        image = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
        try:
            reference = ort_outputs(path, [image])
        except RunFailed as error:
            results[batch] = ("n/a", str(error))
            continue
        try:
            ours = graceful_outputs(graceful, path, [image], len(reference))
        except RunFailed as error:
            results[batch] = ("FAILED", str(error))
            continue
        reasons = []
        worst = 0.0
        # Logits that do not depend on the input prove nothing.
        spread = [float(np.ptp(r)) / (float(np.abs(r).max()) or 1.0) for r in reference]
        if min(spread) < 1e-6:
            results[batch] = ("FAILED", "trivial: ONNX Runtime's outputs are constant")
            continue
        for mine, theirs in zip(ours, reference):
            reason, error = disagreement(mine, theirs)
            worst = max(worst, error)
            if reason:
                reasons.append(reason)
        results[batch] = ("FAILED", "; ".join(reasons)) if reasons else ("ok", f"{worst:.1e}")
    return results


def table(rows, batches):
    lines = ["| model | variant | " + " | ".join(f"batch {b}" for b in batches) + " |",
             "|---|---|" + "---|" * len(batches)]
    for name, variant, results in rows:
        cells = []
        for batch in batches:
            verdict, detail = results[batch]
            cells.append(detail if verdict == "ok" else f"{verdict}: {detail[:160]}")
        lines.append(f"| {name} | {variant} | " + " | ".join(c.replace("|", "/") for c in cells)
                     + " |")
    return "\n".join(lines)


def load_results(path, batches, size):
    """{(model, variant): results} of earlier runs at these batches and size."""
    done = {}
    if path and os.path.exists(path):
        with open(path) as lines:
            for line in lines:
                row = json.loads(line)
                if row["batches"] == batches and row["size"] == size:
                    done[(row["model"], row["variant"])] = {
                        int(b): tuple(r) for b, r in row["results"].items()}
    return done


def save_result(path, name, variant, batches, size, results):
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"model": name, "variant": variant, "batches": batches,
                                  "size": size, "results": results}) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("graceful")
    parser.add_argument("work")
    parser.add_argument("--models", default="all")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--batches", default="1,3,8")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--table")
    parser.add_argument("--keep", action="store_true", help="keep exported models")
    parser.add_argument("--results")
    args = parser.parse_args()
    names = classification_models() if args.models == "all" else args.models.split(",")
    variants = args.variants.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(2)
    rows, counts = [], {"ok": 0, "FAILED": 0, "n/a": 0}
    done = load_results(args.results, batches, args.size)
    started = time.time()
    for index, name in enumerate(names):
        if name in TOO_LARGE:
            results = {b: ("n/a", "over 2 GiB: exports only with external data") for b in batches}
            rows += [(name, v, results) for v in variants]
            counts["n/a"] += len(variants) * len(batches)
            continue
        size = FIXED_SIZES.get(name, max(args.size, MIN_SIZES.get(name, 0)))
        model = None
        for variant in variants:
            results = done.get((name, variant))
            if results is None:
                if model is None:
                    model = build(name, size, seed=index)
                work = os.path.join(args.work, name)
                os.makedirs(work, exist_ok=True)
                results = check_variant(args.graceful, model, name, variant, batches, size,
                                        work, seed=index)
                save_result(args.results, name, variant, batches, args.size, results)
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
            rows.append((name, variant, results))
            for batch in batches:
                verdict, detail = results[batch]
                counts[verdict] += 1
                print(f"[{index + 1}/{len(names)} {time.time() - started:6.0f} s] {name} "
                      f"{variant} batch {batch}: {verdict} {detail[:300]}", flush=True)
    summary = (f"{counts['ok']} agree, {counts['FAILED']} failed, {counts['n/a']} not "
               f"applicable (torch could not export, or ONNX Runtime refused)")
    print(summary)
    if args.table:
        with open(args.table, "w") as out:
            out.write(table(rows, batches) + "\n\n" + summary + "\n")
    return 1 if counts["FAILED"] else 0


if __name__ == "__main__":
    sys.exit(main())
