#!/usr/bin/python3
"""TfIdfVectorizer through `graceful run`, against ONNX Runtime: TF, IDF and
TFIDF with and without weights, unigrams to trigrams, gram-length windows
that leave some of the pool out, skip counts 0 to 3, 1-D and 2-D int32 and
int64 tokens, ngram_indexes permuted and with columns no gram maps to; and
the spec's worked example, checked by hand: over [94, 17, 36, 12, 28],
skips of up to 2 find the bigrams [94, 12] and [17, 28] (two skipped),
[94, 36] (one skipped), but not [12, 94]; no skips find only adjacent
ones.

usage: check_tfidf.py GRACEFUL WORK_DIR
"""
import os
import sys

import numpy as np

from differential import (RunFailed, against_ort, finish, graceful_outputs, judged,
                          save_one_node_model)


def random_pool(rng, vocabulary, per_length):
    """ngram_counts and pool_int64s for per_length[n - 1] distinct n-grams."""
    counts, pool = [], []
    for length, count in enumerate(per_length, start=1):
        counts.append(len(pool))
        grams = set()
        while len(grams) < count:
            grams.add(tuple(int(t) for t in rng.integers(0, vocabulary, length)))
        for gram in sorted(grams):
            pool.extend(gram)
    return counts, pool


def save(path, x, columns, **attributes):
    out_shape = (columns,) if x.ndim == 1 else (x.shape[0], columns)
    return save_one_node_model(path, "TfIdfVectorizer", [("x", x.dtype, x.shape)],
                               [("y", np.float32, out_shape)], opset=9, **attributes)


def random_cases(rng):
    cases = []
    for mode in ("TF", "IDF", "TFIDF"):
        for weighted in (False, True):
            for min_length, max_length, skip in ((1, 1, 0), (2, 2, 0), (1, 2, 3), (2, 3, 1), (1, 3, 2)):
                per_length = [4, 6, 3]
                counts, pool = random_pool(rng, 5, per_length)
                grams = sum(per_length)
                # Columns no gram maps to: the output has max(ngram_indexes) + 1.
                indexes = rng.permutation(grams + 2)[:grams].tolist()
                columns = max(indexes) + 1
                dtype = np.int32 if skip % 2 else np.int64
                shape = (3, 17) if max_length > 1 else (23,)
                x = rng.integers(0, 5, shape).astype(dtype)
                attributes = dict(mode=mode, min_gram_length=min_length,
                                  max_gram_length=max_length, max_skip_count=skip,
                                  ngram_counts=counts, ngram_indexes=indexes, pool_int64s=pool)
                if weighted:
                    attributes["weights"] = rng.uniform(0.1, 3, grams).astype(np.float32).tolist()
                label = (f"{mode}{' weighted' if weighted else ''}, grams {min_length}-{max_length},"
                         f" skip {skip}, {np.dtype(dtype).name} {shape}")
                cases.append((label, x, columns, attributes))
    return cases


def main():
    graceful, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261201)
    failures = []
    cases = random_cases(rng)
    for index, (label, x, columns, attributes) in enumerate(cases):
        path = os.path.join(work, f"tfidf{index}.onnx")
        if not save(path, x, columns, **attributes):
            failures.append(f"{label}: ONNX's checker refuses the model")
            continue
        failures += against_ort(graceful, label, path, [x])
    x = np.array([94, 17, 36, 12, 28], np.int64)
    pool = [94, 12, 17, 28, 94, 36, 12, 94, 94, 17]
    for skips, expected in ((2, [1, 1, 1, 0, 1]), (0, [0, 0, 0, 0, 1])):
        label = f"the spec's example, up to {skips} skips"
        path = os.path.join(work, f"tfidf-spec{skips}.onnx")
        save(path, x, 5, mode="TF", min_gram_length=2, max_gram_length=2, max_skip_count=skips,
             ngram_counts=[0, 0], ngram_indexes=[0, 1, 2, 3, 4], pool_int64s=pool)
        try:
            failures += judged(label, graceful_outputs(graceful, path, [x], 1),
                               {"by hand": [np.array(expected, np.float32)]})
        except RunFailed as error:
            failures.append(f"{label}: {error}")
    finish(f"{len(cases)} TfIdfVectorizer cases checked against ONNX Runtime, 2 by hand", failures)


if __name__ == "__main__":
    main()
