#!/usr/bin/python3
"""Regenerates RESULTS.md and unsupported.txt next to this script from a
run of graceful-conformance over Debian's libonnx-testdata.

usage: update.py BUILD_DIR

Tests named in excluded.txt (with their reasons) are not run. Every test
that is unsupported is listed with the diagnostic it gives; a test that fails (a wrong result, a crash, an unexpected error) is never
listed: the script stops with exit 1 and names it.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/libonnx-testdata/data"
HEADER = """\
# ONNX backend tests the compiler does not support yet, one per line, with
# the diagnostic it gives. Only unsupported ops, types or attributes belong
# here: a test that gives a wrong result is a failure, never listed.
"""


def main():
    build = sys.argv[1]
    runner = os.path.join(build, "compiler", "graceful-conformance")
    with tempfile.TemporaryDirectory() as scratch:
        empty = os.path.join(scratch, "none.txt")
        open(empty, "w").close()
        results = os.path.join(scratch, "RESULTS.md")
        run = subprocess.run([runner, "--data", f"{DATA}/node", "--data",
                              f"{DATA}/pytorch-converted", "--unsupported", empty, "--excluded",
                              os.path.join(HERE, "excluded.txt"), "--results",
                              results, "--timeout", "300", "--round-trip"],
                             capture_output=True, text=True)
        unsupported, failed = [], []
        for line in run.stdout.splitlines():
            match = re.match(r"(unsupported|FAIL): [^/]+/(\S+): (.*)$", line)
            if not match:
                continue
            kind, name, detail = match.groups()
            if kind == "FAIL":
                failed.append(line)
                continue
            detail = detail.removesuffix(" (not in the unsupported list)")
            # Diagnostics start with the file they are about: keep what they say.
            detail = re.sub(r"/\S+\.(onnx|pb): ", "", detail)
            unsupported.append(f"{name}  # {detail}")
        if failed:
            print("\n".join(failed))
            sys.exit(1)
        with open(os.path.join(HERE, "unsupported.txt"), "w") as out:
            out.write(HEADER + "".join(line + "\n" for line in sorted(unsupported)))
        with open(results) as src, open(os.path.join(HERE, "RESULTS.md"), "w") as out:
            out.write(src.read())
    print(run.stdout.splitlines()[-1])


if __name__ == "__main__":
    main()
