#!/usr/bin/python3
"""Trains the example models on scikit-learn's digits (shipped in Debian's
python3-sklearn; nothing is downloaded) and writes them with their data:

  classification/  old classifier; a new one retrained independently; a new
                   one trained with focal distillation towards the old one
  retrieval/       old embedding model; a new one trained independently; a
                   new one trained with BCT's influence loss (old classifier
                   head frozen on the new embedding)
  edge/            two edge embedding models for the retrieval example's
                   old (cloud) model: one with HardSwish, one small ReLU MLP

Deterministic (fixed seeds, one thread), CPU only, about half a minute.

usage: make_examples.py [EXAMPLES_DIR]   (default: the folder of this script)
"""
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)
F = torch.nn.functional


def digits():
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.4, random_state=0)


def mlp(sizes, activation=torch.nn.ReLU):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return torch.nn.Sequential(*layers)


def fit(parameters, loss_of_batch, n, epochs, seed, lr=1e-2):
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(parameters, lr=lr)
    for _ in range(epochs):
        for batch in torch.randperm(n).split(64):
            loss = loss_of_batch(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def train_classifier(sizes, x, y, epochs, seed, teacher=None, weight=0.0, temperature=2.0):
    """Cross-entropy; with a teacher, focal distillation: the KL term towards
    the teacher weighs only the samples the teacher classifies correctly."""
    torch.manual_seed(seed)
    model = mlp(sizes)

    def loss(batch):
        logits = model(x[batch])
        total = F.cross_entropy(logits, y[batch])
        if teacher is not None:
            with torch.no_grad():
                old = teacher(x[batch])
                focus = (old.argmax(1) == y[batch]).float()
            kl = F.kl_div(F.log_softmax(logits / temperature, 1), F.softmax(old / temperature, 1),
                          reduction="none").sum(1)
            total = total + weight * (focus * kl).mean() * temperature ** 2
        return total

    fit(model.parameters(), loss, len(x), epochs, seed)
    return model.eval()


class CosineHead(torch.nn.Module):
    """A classifier on the direction of the embedding (normalized softmax),
    so classes are directions and cosine retrieval follows the classifier."""

    def __init__(self, dim, classes=10, scale=10.0):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(classes, dim))
        self.scale = scale

    def forward(self, embedding):
        return self.scale * F.normalize(embedding, dim=1) @ F.normalize(self.weight, dim=1).T


def train_embedding(sizes, x, y, epochs, seed, old_head=None, influence=3.0, activation=torch.nn.ReLU):
    """An embedding with a classifier head for training. With `old_head`,
    BCT's influence loss: the old model's frozen classifier must also
    classify the new embeddings."""
    torch.manual_seed(seed)
    body = mlp(sizes, activation)
    head = CosineHead(sizes[-1])
    parameters = list(body.parameters()) + list(head.parameters())

    def loss(batch):
        embedding = body(x[batch])
        total = F.cross_entropy(head(embedding), y[batch])
        if old_head is not None:
            total = total + influence * F.cross_entropy(old_head(embedding), y[batch])
        return total

    fit(parameters, loss, len(x), epochs, seed)
    for p in head.parameters():
        p.requires_grad_(False)
    return body.eval(), head.eval()


def export(model, path, output, opset=13):
    torch.onnx.export(model, torch.zeros(1, 64), path, input_names=["pixels"],
                      output_names=[output], dynamic_axes={"pixels": {0: "batch"},
                                                           output: {0: "batch"}},
                      opset_version=opset)


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def classification(out, xt, yt, xe, ye):
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    old = train_classifier([64, 12, 10], xt, yt, epochs=5, seed=1)
    independent = train_classifier([64, 64, 10], xt, yt, epochs=25, seed=2)
    congruent = train_classifier([64, 64, 10], xt, yt, epochs=25, seed=2, teacher=old, weight=2.0)
    with torch.no_grad():
        old_right = old(xe).argmax(1) == ye
    for name, model in [("old", old), ("new_independent", independent),
                        ("new_congruent", congruent)]:
        export(model, os.path.join(out, "models", name + ".onnx"), "logits")
        with torch.no_grad():
            flips = int((old_right & (model(xe).argmax(1) != ye)).sum())
        print(f"classification/{name}: accuracy {accuracy(model, xe, ye):.4f}, "
              f"negative flips vs old {flips}")
    np.save(os.path.join(out, "data", "eval_x.npy"), xe.numpy())
    np.save(os.path.join(out, "data", "eval_y.npy"), ye.numpy())
    # Critical samples: the first 20 the old model gets right.
    critical = torch.nonzero(old_right).flatten()[:20].tolist()
    with open(os.path.join(out, "data", "critical_ids.txt"), "w") as f:
        f.write("# samples that must never regress (0-based indices into eval_x.npy)\n")
        f.write("".join(f"{i}\n" for i in critical))


def retrieval(out, xt, yt, xe, ye):
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    old, old_head = train_embedding([64, 32, 16], xt, yt, epochs=2, seed=11)
    # A different (larger) embedding space: incompatible by construction.
    independent, _ = train_embedding([64, 64, 64], xt, yt, epochs=12, seed=12)
    bct, _ = train_embedding([64, 64, 16], xt, yt, epochs=12, seed=12, old_head=old_head)
    for name, model in [("old", old), ("new_independent", independent), ("new_bct", bct)]:
        export(model, os.path.join(out, "models", name + ".onnx"), "embedding")
    # The gallery is what is already indexed (the training images); the
    # queries are held out.
    np.save(os.path.join(out, "data", "gallery_x.npy"), xt.numpy())
    np.save(os.path.join(out, "data", "gallery_y.npy"), yt.numpy())
    np.save(os.path.join(out, "data", "query_x.npy"), xe.numpy())
    np.save(os.path.join(out, "data", "query_y.npy"), ye.numpy())
    # Calibration images for `graceful compat fit`: the gallery's, not the
    # queries the gate is judged on.
    np.save(os.path.join(out, "data", "calibration_x.npy"), xt.numpy())
    print("retrieval: old, new_independent, new_bct written")
    return old_head


def edge(out, xt, yt, old_head):
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    hardswish, _ = train_embedding([64, 24, 16], xt, yt, epochs=25, seed=21, old_head=old_head,
                                   activation=torch.nn.Hardswish)
    small, _ = train_embedding([64, 24, 16], xt, yt, epochs=25, seed=22, old_head=old_head)
    # Opset 14 has a HardSwish op (13 spells it HardSigmoid * x).
    export(hardswish, os.path.join(out, "models", "edge_hardswish.onnx"), "embedding", opset=14)
    export(small, os.path.join(out, "models", "edge_small.onnx"), "embedding")
    print("edge: edge_hardswish, edge_small written")


def main(root):
    x_train, x_eval, y_train, y_eval = digits()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xe, ye = torch.from_numpy(x_eval), torch.from_numpy(y_eval)
    classification(os.path.join(root, "classification"), xt, yt, xe, ye)
    old_head = retrieval(os.path.join(root, "retrieval"), xt, yt, xe, ye)
    edge(os.path.join(root, "edge"), xt, yt, old_head)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
