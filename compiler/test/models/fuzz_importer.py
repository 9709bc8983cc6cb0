#!/usr/bin/python3
"""Feeds truncated and corrupted ONNX files to the importer (through
`graceful inspect`) and expects clean answers: exit 0 for a file that still
parses and checks, or exit 2 with one line naming the file. A crash (a
signal), a hang or any other exit code is a failure. Deterministic (seeded).

usage: fuzz_importer.py GRACEFUL MODEL.onnx... WORK_DIR
"""
import os
import random
import subprocess
import sys

graceful, models, work = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
os.makedirs(work, exist_ok=True)
random.seed(13)


def variants(data):
    """Truncations, byte flips, byte runs zeroed, and a shuffled tail."""
    for cut in sorted({int(len(data) * i / 40) for i in range(40)} | {1, 2, 7}):
        yield f"truncated at {cut}", data[:cut]
    for i in range(60):
        corrupted = bytearray(data)
        for _ in range(random.randint(1, 8)):
            corrupted[random.randrange(len(data))] = random.randrange(256)
        yield f"flipped bytes #{i}", bytes(corrupted)
    for i in range(20):
        start = random.randrange(len(data))
        corrupted = bytearray(data)
        corrupted[start:start + random.randint(4, 64)] = bytes(64)[:len(corrupted[start:start + 64])]
        yield f"zeroed run #{i}", bytes(corrupted)
    tail = bytearray(data[len(data) // 2:])
    random.shuffle(tail)
    yield "shuffled tail", data[:len(data) // 2] + bytes(tail)


def main():
    failures, counts = [], {0: 0, 2: 0}
    for model in models:
        with open(model, "rb") as f:
            data = f.read()
        for what, content in variants(data):
            path = f"{work}/fuzzed.onnx"
            with open(path, "wb") as f:
                f.write(content)
            try:
                result = subprocess.run([graceful, "inspect", path], capture_output=True,
                                        timeout=60)
            except subprocess.TimeoutExpired:
                failures.append(f"{os.path.basename(model)} {what}: hung")
                continue
            # Corrupted names come back in messages, escaped: the error line
            # must still be printable UTF-8.
            try:
                stderr = result.stderr.decode("utf-8")
            except UnicodeDecodeError as error:
                failures.append(f"{os.path.basename(model)} {what}: error is not UTF-8: {error}")
                continue
            if any(ord(c) < 0x20 and c not in "\n" for c in stderr):
                failures.append(f"{os.path.basename(model)} {what}: control bytes in the error")
                continue
            result.stderr = stderr
            lines = result.stderr.strip().splitlines()
            clean = (result.returncode == 0 or
                     (result.returncode == 2 and len(lines) == 1 and path in lines[0]))
            if not clean:
                failures.append(f"{os.path.basename(model)} {what}: exit {result.returncode}: "
                                f"{result.stderr.strip()[:300]}")
            else:
                counts[result.returncode] += 1
    print(f"{sum(counts.values())} clean answers ({counts[0]} still valid, {counts[2]} refused "
          f"with one line), {len(failures)} failures")
    if failures:
        sys.exit("\n".join(failures))


main()
