"""Copy-paste integration: `flightlog init` snippets, the GitLab template and action.yml.

The printed pipelines are parsed as YAML and their steps run by bash, with the CI
system's environment variables set, the real `flightlog` command on PATH, stubs for the
tools they call (pytest, trivy, grype, the build and deploy scripts) and a real server
behind FLIGHTLOG_SERVER; the test then reads back what each step recorded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from flightlog import __version__
from flightlog.cli.app import app
from flightlog.pipeline.ci import PROVIDERS
from flightlog.pipeline.snippets import GITLAB_TEMPLATE, SNIPPETS, render
from tests.paths import ROOT, corpus_file
from tests.server.conftest import live_server  # noqa: F401 - the real-server fixture
from tests.server.harness import LiveServer

pytestmark = pytest.mark.slow

DOC = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
DIGEST = "sha256:" + "ab" * 32
SHA = "4f2a9c1e0d7b3a5c6e8f9a0b1c2d3e4f5a6b7c8d"
CI_ENV: dict[str, dict[str, str]] = {
    "github-actions": {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_SHA": SHA,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_RUN_ID": "8812",
        "GITHUB_JOB": "release",
        "GITHUB_ACTOR": "alice",
    },
    "gitlab-ci": {
        "GITLAB_CI": "true",
        "CI_PROJECT_PATH": "acme/api",
        "CI_COMMIT_SHA": SHA,
        "CI_COMMIT_BRANCH": "main",
        "CI_PIPELINE_ID": "1234",
        "CI_PIPELINE_URL": "https://gitlab.com/acme/api/-/pipelines/1234",
        "CI_JOB_NAME": "build",
        "GITLAB_USER_LOGIN": "alice",
        "CI_REGISTRY_IMAGE": "registry.gitlab.com/acme/api",
    },
}
RUN_ID = {"github-actions": "8812", "gitlab-ci": "1234"}
IMAGE = {"github-actions": "ghcr.io/acme/api", "gitlab-ci": "registry.gitlab.com/acme/api"}
# What each stubbed tool does: write the report the real tool would have written.
STUBS = {
    "pytest": 'cp "$STUB_REPORTS/report.xml" report.xml',
    "trivy": 'cp "$STUB_REPORTS/trivy.sarif" trivy.sarif',
    "grype": 'cat "$STUB_REPORTS/grype.json"',
}
REPORTS = {
    "report.xml": "junit/jest-junit.xml",
    "trivy.sarif": "sarif/trivy-alpine-310.sarif",
    "grype.json": "cyclonedx/grype-0.94.0-busybox-1.32.1.grype-report.json",
}


def doc_block(marker: str) -> str:
    """The fenced block following ``<!-- marker -->`` in docs/ci.md."""
    found = re.search(rf"<!-- {re.escape(marker)} -->\n\n```yaml\n(.*?)```", DOC, re.S)
    assert found is not None, f"docs/ci.md has no block after <!-- {marker} -->"
    return found.group(1)


def printed(ci: str) -> str:
    """What `flightlog init CI` prints."""
    result = CliRunner().invoke(app, ["init", ci])
    assert result.exit_code == 0, result.output
    return result.stdout


class Workspace:
    """A job's working directory with stubbed tools, and the environment every step shares."""

    def __init__(self, tmp_path: Path, ci: str, server: LiveServer) -> None:
        self.dir = tmp_path / "work"
        self.dir.mkdir()
        reports = tmp_path / "reports"
        reports.mkdir()
        for name, relative in REPORTS.items():
            (reports / name).write_bytes(corpus_file(relative).read_bytes())
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        for tool, body in STUBS.items():
            self._script(bin_dir / tool, body)
        self._script(self.dir / "build.sh", f"echo {DIGEST}")
        self._script(self.dir / "deploy.sh", "exit 0")
        blank = {marker: "" for _, marker, _ in PROVIDERS}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FLIGHTLOG_")},
            **blank,
            **CI_ENV[ci],
            # The stubs first (the test environment has a real pytest), then `flightlog`.
            "PATH": os.pathsep.join(
                [str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]
            ),
            "STUB_REPORTS": str(reports),
            "CI_PROJECT_DIR": str(self.dir),
            "FLIGHTLOG_SERVER": server.url,
            "FLIGHTLOG_TOKEN": server.admin,
        }

    @staticmethod
    def _script(path: Path, body: str) -> None:
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def bash(self, script: str, env: Mapping[str, str]) -> None:
        """Run ``script`` as a CI runner does: bash, stopping at the first failing line."""
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=self.dir,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"


def github_expressions(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``${{ expr }}`` replaced from ``values`` (an unknown one fails)."""

    def value(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        assert expr in values, f"no value for ${{{{ {expr} }}}}"
        return values[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def expand(value: str, env: Mapping[str, str]) -> str:
    """A GitLab variable's value with ``$NAME`` / ``${NAME}`` expanded from ``env``."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def run_github(workflow: Mapping[str, Any], work: Workspace) -> int:
    """Run every step with a `run:` that is not an install or a failure handler; how many."""
    values = {
        "vars.FLIGHTLOG_SERVER": work.env["FLIGHTLOG_SERVER"],
        "secrets.FLIGHTLOG_TOKEN": work.env["FLIGHTLOG_TOKEN"],
        "github.repository": work.env["GITHUB_REPOSITORY"],
        "steps.build.outputs.digest": DIGEST,
    }
    top = {k: github_expressions(str(v), values) for k, v in workflow["env"].items()}
    ran = 0
    for step in workflow["jobs"]["release"]["steps"]:
        run = step.get("run")
        if run is None or "pip install" in run or step.get("if", "always()") != "always()":
            continue
        env = {k: github_expressions(str(v), values) for k, v in (step.get("env") or {}).items()}
        work.bash(run, {**top, **env})
        ran += 1
    return ran


def run_gitlab(pipeline: Mapping[str, Any], work: Workspace) -> int:
    """Run each stage's job (script, then after_script) in stage order; how many jobs."""
    ran = 0
    for stage in pipeline["stages"]:
        for name, job in pipeline.items():
            if not isinstance(job, dict) or job.get("stage") != stage:
                continue
            base = pipeline[job["extends"]]
            env = dict(work.env, CI_JOB_NAME=name)
            for key, value in {**pipeline["variables"], **base["variables"]}.items():
                env[key] = expand(str(value), env)
            work.bash("\n".join(job["script"]), env)
            work.bash("\n".join(base["after_script"]), env)
            ran += 1
    return ran


def recorded(server: LiveServer) -> list[dict[str, Any]]:
    """Every event the server holds, oldest first."""
    cli = CliRunner(env={"FLIGHTLOG_SERVER": server.url, "FLIGHTLOG_TOKEN": server.admin})
    result = cli.invoke(app, ["log", "--json", "--limit", "1000"])
    assert result.exit_code == 0, result.output
    return [doc["event"] for doc in json.loads(result.stdout)["events"]]


class TestInit:
    """`flightlog init` prints what docs/ci.md shows."""

    @pytest.mark.parametrize("ci", sorted(SNIPPETS))
    def test_docs_show_the_printed_snippet(self, ci: str) -> None:
        """docs/ci.md holds each snippet exactly as `flightlog init` prints it."""
        assert doc_block(f"flightlog init {ci}") == printed(ci)

    def test_the_gitlab_template_file_is_the_template(self) -> None:
        """ci/flightlog.gitlab-ci.yml is the template for this version, and docs/ci.md shows it."""
        text = (ROOT / "ci" / "flightlog.gitlab-ci.yml").read_text(encoding="utf-8")
        assert text == render(GITLAB_TEMPLATE, version=__version__)
        assert doc_block("ci/flightlog.gitlab-ci.yml") == text

    def test_options_fill_the_names(self) -> None:
        """--service and --env name the deployment in every deploy line."""
        result = CliRunner().invoke(app, ["init", "gitlab-ci", "--service", "pay", "--env", "eu"])
        deploys = [ln for ln in result.stdout.splitlines() if "record deploy" in ln]
        assert len(deploys) == 2
        assert all("--service pay --env eu " in ln for ln in deploys)

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["jenkins"], "no snippet for 'jenkins'; choose one of: github-actions, gitlab-ci"),
            (["gitlab-ci", "--service", "a b"], "--service 'a b': use letters, digits and . _ / - only"),
        ],
    )  # fmt: skip
    def test_refused(self, args: list[str], message: str) -> None:
        """An unknown CI or a name that would break the shell lines exits 2 naming it."""
        result = CliRunner().invoke(app, ["init", *args])
        assert result.exit_code == 2
        assert result.stderr.strip() == f"error: {message}"


@pytest.mark.parametrize("ci", sorted(SNIPPETS))
def test_printed_pipeline_runs(ci: str, tmp_path: Path, live_server: LiveServer) -> None:  # noqa: F811
    """Every step of the printed pipeline records, linked to the CI's commit and run."""
    work = Workspace(tmp_path, ci, live_server)
    pipeline = yaml.safe_load(printed(ci))
    ran = run_github(pipeline, work) if ci == "github-actions" else run_gitlab(pipeline, work)
    assert ran >= 3
    events = recorded(live_server)
    types = [e["context"]["type"].split(".")[2:4] for e in events]
    assert types == [
        ["testsuiterun", "finished"],
        ["build", "finished"],
        ["artifact", "published"],
        ["flightlog-vulnerabilityscan", "finished"],
        ["flightlog-deployment", "started"],
        ["flightlog-deployment", "finished"],
        ["service", "deployed"],
    ]
    artifact = f"{IMAGE[ci]}@{DIGEST}"
    for event in events:
        refs = event["customData"]["flightlog"]
        assert (refs["commit"], refs["pipelineRun"]) == (SHA, RUN_ID[ci])
    assert events[3]["subject"]["content"]["artifactId"] == artifact
    assert events[6]["subject"]["content"] == {
        "environment": {"id": "production"},
        "artifactId": artifact,
    }
    assert not list((work.dir / ".flightlog" / "spool").glob("*.json"))


def test_the_action_records_a_step(tmp_path: Path, live_server: LiveServer) -> None:  # noqa: F811
    """action.yml's steps, run with its inputs and GitHub's variables, record the step."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    work = Workspace(tmp_path, "github-actions", live_server)
    (work.dir / "report.xml").write_bytes(corpus_file(REPORTS["report.xml"]).read_bytes())
    inputs = {
        "args": 'record test --junit report.xml --env ci --condition "suite=unit tests"',
        "server": live_server.url,
        "token": live_server.admin,
        "strict": "true",
        "pip": "",
    }
    values = {f"inputs.{k}": v for k, v in inputs.items()}
    values["github.action_path"] = str(ROOT)
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash"
        env = {k: github_expressions(str(v), values) for k, v in step["env"].items()}
        work.bash(step["run"], env)
    [event] = recorded(live_server)
    results = event["customData"]["testResults"]
    assert results["conditions"]["suite"] == "unit tests"
    assert (results["tests"], results["failures"]) == (6, 4)
    assert event["customData"]["flightlog"]["commit"] == SHA
