#!/usr/bin/python3
"""Runs the shell steps of the CI templates in docs/ci/ against a fresh
registry, as their runners would: the GitHub Actions workflow's `run` steps
(bash -eo pipefail, ${{ }} expressions filled in, `if: always()` honoured,
GITHUB_OUTPUT read back between steps) and the GitLab job's script (one
bash -eo pipefail session, job variables expanded).

For each template, on SQLite and (when GRACEFUL_TEST_PG names the suite's
PostgreSQL server) on a fresh PostgreSQL database, four jobs in a row:
  1. the first run on a fresh registry: registers digits@1 and promotes it;
  2. the same job retried: registers nothing, moves nothing, exit 0;
  3. a refused candidate: the job exits 1, the reports are still published,
     production stays at digits@1;
  4. a candidate the gates pass: production moves to it.

Usage: ci_templates_test.py REPO BUILD_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

import yaml

REPO, BUILD = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
GRACEFUL = os.path.join(BUILD, "cli", "graceful")
MODELS = os.path.join(REPO, "examples", "classification", "models")
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
# The `uses:` steps the workflow may have: a runner does them, not a shell.
KNOWN_ACTIONS = {"actions/checkout@v4", "actions/upload-artifact@v4"}


class Failure(Exception):
    pass


def workspace(root, name):
    """A fresh checkout of the repository that holds the policy."""
    path = os.path.join(root, name)
    os.makedirs(os.path.join(path, "policies"))
    shutil.copy(os.path.join(REPO, "examples", "classification", "policy.yaml"),
                os.path.join(path, "policies", "production.yaml"))
    os.symlink(os.path.join(REPO, "examples", "classification", "data"),
               os.path.join(path, "policies", "data"))
    return path


def base_environment(root):
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRACEFUL_")}
    env["PATH"] = os.path.join(BUILD, "cli") + ":/usr/local/bin:/usr/bin:/bin"
    env["HOME"] = root
    return env


def run_github(template, job, registry, root, run_id):
    """Runs the workflow's steps; returns (exit code, step summary)."""
    work = workspace(root, "github-%s-%d" % (registry["name"], run_id))
    values = {"inputs.model": job["model"], "inputs.onnx": job["onnx"],
              "secrets.GRACEFUL_STORE": registry["store"],
              "vars.GRACEFUL_ARTIFACTS": registry["artifacts"],
              "github.actor": "octocat", "github.sha": "%040x" % run_id}
    outputs = {}

    def fill(text):
        def value(match):
            name = match.group(1)
            step = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", name)
            if step:
                return outputs.get(step.group(1), {}).get(step.group(2), "")
            if name not in values:
                raise Failure("the workflow uses ${{ %s }}, which the test does not provide" % name)
            return values[name]
        return EXPRESSION.sub(value, str(text))

    (name, gate), = template["jobs"].items()
    env = base_environment(root)
    env.update({key: fill(value) for key, value in gate.get("env", {}).items()})
    summary = os.path.join(work, "summary.md")
    open(summary, "w").close()
    failed = 0
    for step in gate["steps"]:
        condition = step.get("if", "success()")
        if condition not in ("success()", "always()"):
            raise Failure("step %r: the test does not evaluate if: %s" % (step, condition))
        if failed and condition != "always()":
            continue
        if "uses" in step:
            if step["uses"] not in KNOWN_ACTIONS:
                raise Failure("unknown action %s" % step["uses"])
            continue
        output = os.path.join(work, "output-%s" % step.get("id", "step"))
        open(output, "w").close()
        step_env = dict(env, GITHUB_OUTPUT=output, GITHUB_STEP_SUMMARY=summary)
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                                 fill(step["run"])], cwd=work, env=step_env,
                                capture_output=True, text=True)
        log(step.get("name", step["run"]), result)
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1) for line in
                                       open(output).read().splitlines() if "=" in line)
        if result.returncode != 0 and not failed:
            failed = result.returncode
    return failed, open(summary).read(), work


def run_gitlab(template, job, registry, root, run_id):
    """Runs the job's script; returns (exit code, "", workspace)."""
    work = workspace(root, "gitlab-%s-%d" % (registry["name"], run_id))
    (name, gate), = [(k, v) for k, v in template.items() if isinstance(v, dict) and "script" in v]
    env = base_environment(root)
    env.update({"MODEL": job["model"], "ONNX": job["onnx"], "GRACEFUL_STORE": registry["store"],
                "GRACEFUL_ARTIFACTS": registry["artifacts"], "GITLAB_USER_LOGIN": "tanuki",
                "CI_COMMIT_SHA": "%040x" % run_id})
    for key, value in gate.get("variables", {}).items():
        env[key] = re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), str(value))
    script = "\n".join(gate["script"])
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                            cwd=work, env=env, capture_output=True, text=True)
    log(name, result)
    return result.returncode, "", work


def log(what, result):
    print("  [%s] exit %d" % (what, result.returncode))
    for line in (result.stdout + result.stderr).splitlines()[-12:]:
        print("    " + line)


def graceful(registry, *args):
    env = base_environment(registry["root"])
    env.update(GRACEFUL_STORE=registry["store"], GRACEFUL_ARTIFACTS=registry["artifacts"])
    result = subprocess.run([GRACEFUL, *args, "--json"], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise Failure("graceful %s: exit %d: %s" % (" ".join(args), result.returncode,
                                                    result.stderr))
    return json.loads(result.stdout)


def registries(root):
    yield {"name": "sqlite", "root": root, "store": "sqlite:%s/registry/registry.db" % root,
           "artifacts": "%s/registry/artifacts" % root}
    admin = os.environ.get("GRACEFUL_TEST_PG")
    if admin:
        database = "ci_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", admin, "-q", "-c", "CREATE DATABASE " + database], check=True)
        yield {"name": "postgresql", "root": root,
               "store": admin.rsplit("/", 1)[0] + "/" + database,
               "artifacts": "%s/pg-artifacts" % root}


def scenario(kind, runner, template, registry, root):
    jobs = [("first run", "old.onnx", 0), ("retried run", "old.onnx", 0),
            ("refused candidate", "new_independent.onnx", 1),
            ("passing candidate", "new_congruent.onnx", 0)]
    events = 0
    for run_id, (title, onnx, expected) in enumerate(jobs, 1):
        print("%s on %s: %s" % (kind, registry["name"], title))
        job = {"model": "digits", "onnx": os.path.join(MODELS, onnx)}
        code, summary, work = runner(template, job, registry, root, run_id)
        if code != expected:
            raise Failure("%s on %s, %s: exit %d, expected %d" %
                          (kind, registry["name"], title, code, expected))
        holder = graceful(registry, "show", "digits@production")
        log_now = len(graceful(registry, "audit")["events"])
        versions = len(graceful(registry, "show", "digits")["versions"])
        if title == "first run":
            want = (1, 1)
        elif title == "retried run":
            want = (1, 1)
            if log_now != events:
                raise Failure("%s: the retried job recorded %d audit events" %
                              (kind, log_now - events))
        elif title == "refused candidate":
            want = (1, 2)
            if not os.path.getsize(os.path.join(work, "gate-report.xml")):
                raise Failure("%s: the refused job wrote no JUnit report" % kind)
            if runner is run_github and "fail" not in summary:
                raise Failure("%s: the step summary lacks the refusal: %r" % (kind, summary))
            parents = graceful(registry, "show", "digits@2")["parents"]
            if [p["parent"]["version"] for p in parents] != [1]:
                raise Failure("%s: digits@2 was registered without its production parent" % kind)
        else:
            want = (3, 3)
        if (holder["version"], versions) != want:
            raise Failure("%s, %s: production is digits@%d with %d versions, expected %s" %
                          (kind, title, holder["version"], versions, want))
        events = log_now
    check = graceful(registry, "check")
    if not check["ok"]:
        raise Failure("%s: check after the jobs: %s" % (kind, check["problems"]))


def main():
    github = yaml.safe_load(open(os.path.join(REPO, "docs", "ci", "gate-model.yml")))
    gitlab = yaml.safe_load(open(os.path.join(REPO, "docs", "ci", ".gitlab-ci.yml")))
    try:
        for kind, runner, template in [("github", run_github, github),
                                       ("gitlab", run_gitlab, gitlab)]:
            with tempfile.TemporaryDirectory(prefix="graceful-ci-") as root:
                for registry in registries(root):
                    scenario(kind, runner, template, registry, root)
    except Failure as failure:
        print("FAIL: %s" % failure)
        return 1
    print("both templates: first run, retry, refusal and promotion as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
