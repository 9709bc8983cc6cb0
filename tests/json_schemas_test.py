#!/usr/bin/python3
"""Validates every --json output the test suite produced against docs/schemas/.

The GoogleTest suites that drive the binary record each `--json` run when
GRACEFUL_TEST_JSON_LOG names a directory (tests/harness/lib/process.cc):
N.args (one argument per line), N.out, N.err and N.code. Here stdout of a
run that did not fail (exit 0 or 1) must validate against its command's
schema, and stderr of a failed one (exit 2-4) against error.schema.json.
Also checks that docs/schemas/ is what scripts/json-schemas generates.

Usage: json_schemas_test.py REPO LOG_DIR
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

TWO_WORD = {"gate", "report", "alias", "compat", "model", "token", "dataset", "webhook"}
# Commands whose outputs the suites must have produced at least once.
REQUIRED = ["init", "register", "list", "show", "history", "audit", "check", "gate run",
            "promote", "rollback", "report show", "report list", "inspect", "alias delete",
            "model describe", "model tag", "dataset register", "dataset show",
            "webhook create", "webhook deliveries", "error"]


def command_of(args):
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return None
    if words[0] in TWO_WORD and len(words) > 1:
        return words[0] + " " + words[1]
    return words[0]


def load_schemas(directory):
    schemas = {}
    for path in glob.glob(os.path.join(directory, "*.schema.json")):
        with open(path) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        name = os.path.basename(path)[: -len(".schema.json")].replace("-", " ")
        schemas[name] = jsonschema.Draft202012Validator(schema)
    return schemas


def check_up_to_date(repo):
    with tempfile.TemporaryDirectory() as fresh:
        subprocess.run([os.path.join(repo, "scripts", "json-schemas"), fresh], check=True)
        stale = []
        for path in sorted(glob.glob(os.path.join(fresh, "*.json"))):
            committed = os.path.join(repo, "docs", "schemas", os.path.basename(path))
            if not os.path.exists(committed) or open(committed).read() != open(path).read():
                stale.append(os.path.basename(path))
        return stale


def main():
    repo, log = sys.argv[1], sys.argv[2]
    failures = []
    stale = check_up_to_date(repo)
    if stale:
        failures.append("docs/schemas is stale (run scripts/json-schemas): " + ", ".join(stale))
    schemas = load_schemas(os.path.join(repo, "docs", "schemas"))
    seen = {}
    for args_path in sorted(glob.glob(os.path.join(log, "*.args"))):
        base = args_path[: -len(".args")]
        args = open(args_path).read().splitlines()
        code = int(open(base + ".code").read())
        command = command_of(args)
        if "--dot" in args or command == "run" or command not in schemas and code < 2:
            continue
        stream, name = (open(base + ".err").read(), "error") if code >= 2 else (
            open(base + ".out").read(), command)
        if code < 0 or not stream.strip():
            continue  # killed, or a command that prints nothing (run)
        try:
            document = json.loads(stream)
        except json.JSONDecodeError as e:
            failures.append("%s: %s is not one JSON document (%s): %r" %
                            (" ".join(args), name, e, stream[:200]))
            continue
        errors = sorted(schemas[name].iter_errors(document), key=lambda e: list(e.path))
        for error in errors[:3]:
            failures.append("%s (exit %d): %s at %s" %
                            (" ".join(args), code, error.message[:300], list(error.path)))
        seen[name] = seen.get(name, 0) + 1
    for name in REQUIRED:
        if not seen.get(name):
            failures.append("no recorded --json output of '%s'" % name)
    print("validated: " + ", ".join("%s %d" % item for item in sorted(seen.items())))
    for failure in failures:
        print("FAIL: " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
