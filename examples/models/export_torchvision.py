#!/usr/bin/python3
"""Exports a torchvision classifier with random weights (nothing is
downloaded) to ONNX, and writes what torch itself says about it: parameter
count, conv + linear MACs at the exported input size, and the outputs torch
computed for a fixed input, so tests can check graceful against torch.
NAME `transformer_encoder` is a 2-layer torch.nn.TransformerEncoder (width
64, 4 heads, GELU, SIZE tokens) exported at opset 17, where LayerNorm is
one ONNX op; its MACs count the feed-forward Linear modules only (attention
projects through functional calls no hook sees).

usage: export_torchvision.py NAME OUT_DIR [--batch B] [--size S]
writes OUT_DIR/NAME.onnx, NAME.input.npy, NAME.output.npy, NAME.facts.json
"""
import argparse
import json
import os

import numpy as np
import torch
import torchvision


def conv_linear_macs(model, example):
    """Multiply-accumulates of every Conv2d and Linear, from forward hooks."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            per_output = (module.in_channels // module.groups) * module.kernel_size[0] * \
                module.kernel_size[1]
            total[0] += output.numel() * per_output
        elif isinstance(module, torch.nn.Linear):
            total[0] += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    # With gradients on, TransformerEncoder takes its module-by-module path
    # instead of a fused kernel that would bypass the hooks.
    with torch.enable_grad():
        model(example)
    for handle in handles:
        handle.remove()
    return total[0]


def build(name, batch, size):
    """The model in eval mode, an input for it and the opset to export at."""
    if name == "transformer_encoder":
        layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
                                                 activation="gelu", batch_first=True)
        model = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        return model.eval(), torch.randn(batch, size, 64), 17
    model = getattr(torchvision.models, name)(weights=None).eval()
    return model, torch.randn(batch, 3, size, size), 13


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("out_dir")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.manual_seed(0)
    model, example, opset = build(args.name, args.batch, args.size)
    path = os.path.join(args.out_dir, args.name)
    # TrainingMode.PRESERVE keeps BatchNormalization nodes (eval mode would
    # fold them into the convolutions), so the graph matches the module.
    torch.onnx.export(model, example, path + ".onnx", input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "batch"},
                                                             "logits": {0: "batch"}},
                      opset_version=opset, training=torch.onnx.TrainingMode.PRESERVE)
    with torch.no_grad():
        output = model(example)
    np.save(path + ".input.npy", example.numpy())
    np.save(path + ".output.npy", output.numpy())
    facts = {"params": sum(p.numel() for p in model.parameters()),
             "macs_per_sample": conv_linear_macs(model, example[:1])}
    with open(path + ".facts.json", "w") as out:
        json.dump(facts, out)
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
