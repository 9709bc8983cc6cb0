#!/usr/bin/python3
"""Runs every shell block of README.md and docs/*.md, in order, as a reader
would type them: one shell session in a fresh directory holding a fresh
registry, with the committed examples at examples/ and the build at build/.
The examples' READMEs are a second session of their own (classification,
retrieval, edge, linearize: each builds on the one before), with graceful
on the PATH as examples/README.md assumes.

A block is a fenced block marked sh, bash or shell. The line before its
fence may say `<!-- docs-test: skip REASON -->` (invisible on a rendered
page) for a block that is not meant to run here (it builds the project, or
runs for minutes). Every command must exit 0, unless its comment ends with
`(exit N)`: then it must exit N. A command may span lines ending in `\\`.
Also fails when a block is skipped without a reason, so a skip is a
decision written down.

Usage: docs_test.py REPO BUILD_DIR
"""
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

SHELL_FENCES = {"sh", "bash", "shell"}
SKIP = re.compile(r"^<!--\s*docs-test:\s*skip\b:?\s*(.*?)\s*-->$")
EXPECTED_EXIT = re.compile(r"#.*\(exit (\d+)\)\s*$")


EXAMPLES = ["classification", "retrieval", "edge", "linearize"]


def sessions(repo):
    """(name, documents in order, whether graceful is on the PATH already)."""
    top = [os.path.join(repo, "README.md")] + sorted(glob.glob(os.path.join(repo, "docs", "*.md")))
    examples = [os.path.join(repo, "examples", name, "README.md") for name in EXAMPLES]
    return [("README.md and docs", top, False), ("examples", examples, True)]


def blocks(path):
    """(first line number, [lines], skip reason or None) of each shell block."""
    lines = open(path).read().splitlines()
    found, i = [], 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        if fence.group(1) not in SHELL_FENCES:
            continue
        previous = next((lines[j] for j in range(start - 2, -1, -1) if lines[j].strip()), "")
        skip = SKIP.match(previous.strip())
        found.append((start + 1, body, skip.group(1) if skip else None))
    return found


def commands(first_line, body):
    """(line number, command text, expected exit code) of each command."""
    result, pending, at = [], "", first_line
    for offset, line in enumerate(body):
        if not pending:
            at = first_line + offset
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if not text or text.startswith("#"):
            continue
        expected = EXPECTED_EXIT.search(text)
        result.append((at, text, int(expected.group(1)) if expected else 0))
    return result


def script_for(repo, documents):
    """The session as one bash script, and what it skipped."""
    parts, skipped, count = ["exec </dev/null"], [], 0
    for path in documents:
        name = os.path.relpath(path, repo)
        for first_line, body, skip in blocks(path):
            if skip is not None:
                skipped.append((name, first_line, skip))
                continue
            for line, text, expected in commands(first_line, body):
                count += 1
                where = "%s:%d" % (name, line)
                parts.append("printf '\\n$ %%s\\n' %s" % shlex.quote(text))
                parts.append(text)
                parts.append('code=$?; if [ "$code" != %d ]; then echo "docs_test: %s exited '
                             '$code, expected %d: "%s >&2; exit 1; fi'
                             % (expected, where, expected, shlex.quote(text)))
    return "\n".join(parts) + "\n", skipped, count


def run_session(repo, build, documents, graceful_on_path):
    """(commands run, what was skipped, problems)."""
    script, skipped, count = script_for(repo, documents)
    problems = ["%s:%d: skipped without a reason" % (name, line)
                for name, line, reason in skipped if not reason]
    with tempfile.TemporaryDirectory(prefix="graceful-docs-") as work:
        os.symlink(os.path.join(repo, "examples"), os.path.join(work, "examples"))
        os.symlink(build, os.path.join(work, "build"))
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("GRACEFUL_")}
        env["HOME"] = work
        # A reader's shell: the README's own `export PATH=...` provides this
        # build's graceful; the examples assume it is on the PATH.
        env["PATH"] = (os.path.join(build, "cli") + ":" if graceful_on_path else "") + \
            "/usr/local/bin:/usr/bin:/bin"
        result = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True,
                                text=True)
        print(result.stdout)
        if count == 0:
            problems.append("no documented commands found")
        if result.returncode != 0:
            problems.append("the documented session failed:\n%s\n%s" %
                            (result.stdout[-4000:], result.stderr[-3000:]))
    return count, skipped, problems


def main():
    repo, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    problems = []
    unlisted = sorted(set(glob.glob(os.path.join(repo, "examples", "*", "README.md"))) -
                      {os.path.join(repo, "examples", name, "README.md") for name in EXAMPLES})
    problems += ["%s is in no session (add it to EXAMPLES)" % path for path in unlisted]
    for name, documents, on_path in sessions(repo):
        count, skipped, failed = run_session(repo, build, documents, on_path)
        for document, line, reason in skipped:
            print("skipped %s:%d (%s)" % (document, line, reason))
        print("%s: ran %d documented commands" % (name, count))
        problems += failed
    for problem in problems:
        print("FAIL: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
