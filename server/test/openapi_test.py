#!/usr/bin/python3
"""Validates every answer the server tests recorded against the OpenAPI
document (docs/schemas/openapi.json, served at /api/v1/openapi.json).

server/test/http_client.cc records each answer when GRACEFUL_TEST_HTTP_LOG
names a directory (by default the build's http-responses): N.method,
N.target, N.status, N.type and N.body. Each must match a documented path
and method, its status must be one the operation documents, and a JSON body
must validate against that status's schema. Every documented operation must
have been answered with a 2xx at least once.

Usage: openapi_test.py REPO LOG_DIR
"""
import glob
import json
import os
import re
import sys
import urllib.parse

import jsonschema


def operations(document):
    found = []
    for path, item in document["paths"].items():
        parts = ["[^/]+" if part.startswith("{") else re.escape(part)
                 for part in path.split("/")]
        pattern = re.compile("^" + "/".join(parts) + "$")
        for method, operation in item.items():
            found.append((pattern, path, method, operation))
    return found


def schema_of(document, response):
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].split("/")[-1]]
    content = response.get("content", {})
    return content.get("application/json", {}).get("schema"), list(content)


def main():
    repo, log = sys.argv[1], sys.argv[2]
    with open(os.path.join(repo, "docs", "schemas", "openapi.json")) as f:
        document = json.load(f)
    failures = []
    if not document.get("openapi", "").startswith("3."):
        failures.append("not an OpenAPI 3 document")
    resolver = jsonschema.RefResolver.from_schema(document)
    table = operations(document)
    answered = set()
    count = 0
    for base in sorted(p[: -len(".method")] for p in glob.glob(os.path.join(log, "*.method"))):
        method = open(base + ".method").read().lower()
        target = open(base + ".target").read()
        status = open(base + ".status").read().strip()
        kind = open(base + ".type").read()
        body = open(base + ".body", "rb").read()
        path = urllib.parse.urlsplit(target).path
        matches = [(p, o) for pattern, p, m, o in table if m == method and pattern.match(path)]
        if not matches:
            if status in ("404", "405", "400"):
                continue  # an unknown endpoint or method, answered as an error
            failures.append("%s %s (%s): undocumented" % (method, target, status))
            continue
        # The most specific template: fewest parameters.
        documented, operation = min(matches, key=lambda m: m[0].count("{"))
        response = operation["responses"].get(status)
        if response is None:
            failures.append("%s %s: status %s is not documented for %s" %
                            (method, target, status, documented))
            continue
        schema, types = schema_of(document, response)
        if kind.split(";")[0] not in types:
            failures.append("%s %s: content type %r, documented %s" % (method, target, kind, types))
        if schema is not None:
            try:
                instance = json.loads(body)
            except ValueError as e:
                failures.append("%s %s: not JSON (%s)" % (method, target, e))
                continue
            validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
            for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path))[:3]:
                failures.append("%s %s (%s): %s at %s" % (method, target, status,
                                                          error.message[:300], list(error.path)))
        if status.startswith("2"):
            answered.add((method, documented))
        count += 1
    for _, path, method, _ in table:
        if (method, path) not in answered:
            failures.append("no recorded 2xx answer of %s %s" % (method.upper(), path))
    print("validated %d answers over %d operations" % (count, len(answered)))
    for failure in failures:
        print("FAIL: " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
