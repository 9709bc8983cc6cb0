#!/usr/bin/python3
"""Trains small digit classifiers on scikit-learn's digits and exports them
to ONNX: a cloud model, a fine-tuned successor and a smaller edge model
distilled from it. Deterministic (fixed seeds), CPU only, a few seconds.

usage: make_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def mlp(hidden):
    return torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))


def train(model, x, y, epochs, seed, teacher=None):
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            logits = model(x[batch])
            loss = torch.nn.functional.cross_entropy(logits, y[batch])
            if teacher is not None:
                with torch.no_grad():
                    soft = torch.softmax(teacher(x[batch]) / 2.0, dim=1)
                loss = loss + torch.nn.functional.kl_div(
                    torch.log_softmax(logits / 2.0, dim=1), soft, reduction="batchmean")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def export(model, path):
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 64), path, input_names=["pixels"],
                      output_names=["logits"], dynamic_axes={"pixels": {0: "batch"},
                                                             "logits": {0: "batch"}},
                      opset_version=13)


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_eval, y_train, y_eval = train_test_split(x, y, test_size=0.4, random_state=0)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)

    torch.manual_seed(1)
    cloud_v1 = train(mlp(32), xt, yt, epochs=3, seed=1)
    torch.manual_seed(2)
    cloud_v2 = mlp(32)
    cloud_v2.load_state_dict(cloud_v1.state_dict())
    cloud_v2 = train(cloud_v2, xt, yt, epochs=10, seed=2)
    torch.manual_seed(3)
    edge = train(mlp(16), xt, yt, epochs=10, seed=3, teacher=cloud_v2.eval())

    for name, model in [("cloud_v1", cloud_v1), ("cloud_v2", cloud_v2), ("edge_v1", edge)]:
        export(model, os.path.join(out_dir, name + ".onnx"))
        with torch.no_grad():
            accuracy = (model(torch.from_numpy(x_eval)).argmax(1).numpy() == y_eval).mean()
        print(f"{name}: held-out accuracy {accuracy:.3f}")
    np.save(os.path.join(out_dir, "eval_x.npy"), x_eval)
    np.save(os.path.join(out_dir, "eval_y.npy"), y_eval)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
