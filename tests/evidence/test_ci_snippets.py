"""The pipeline snippets of docs/ci.md: their `flightlog` lines run in the matching CI."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightlog.cli.app import app
from flightlog.pipeline.ci import PROVIDERS
from tests.paths import ROOT, corpus_file

DOC = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
DIGEST = "ab" * 32
SHA = "4f2a9c1e0d7b3a5c6e8f9a0b1c2d3e4f5a6b7c8d"
ENVIRONMENTS: dict[str, dict[str, str]] = {
    "GitHub Actions": {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_SHA": SHA,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_NAME": "main",
        "GITHUB_RUN_ID": "8812",
        "GITHUB_JOB": "test",
        "GITHUB_ACTOR": "alice",
    },
    "GitLab CI": {
        "GITLAB_CI": "true",
        "CI_PROJECT_PATH": "acme/api",
        "CI_COMMIT_SHA": SHA,
        "CI_COMMIT_BRANCH": "main",
        "CI_COMMIT_TAG": "v1.4.2",
        "CI_PIPELINE_ID": "1234",
        "CI_PIPELINE_URL": "https://gitlab.com/acme/api/-/pipelines/1234",
        "CI_JOB_NAME": "test",
        "GITLAB_USER_LOGIN": "alice",
    },
}
# The reports the snippets' scanners and test runners would have written.
REPORTS = {
    "report.xml": "junit/pytest-horovod-junit.fail.xml",
    "trivy.sarif": "sarif/trivy-alpine-310.sarif",
    "grype.json": "cyclonedx/grype-0.94.0-busybox-1.32.1.grype-report.json",
}


def snippet_commands(ci: str) -> list[str]:
    """The `flightlog …` lines of the YAML block following the line naming ``ci``."""
    block = re.search(rf"^{re.escape(ci)}:\n\n```yaml\n(.*?)```", DOC, re.S | re.M)
    assert block is not None, ci
    lines = [re.sub(r"^\s*(?:- run:|-)\s*", "", line) for line in block.group(1).splitlines()]
    return [line for line in lines if line.startswith("flightlog ")]


def expand(line: str, env: dict[str, str]) -> list[str]:
    """Split a shell line and substitute ``$NAME`` / ``${NAME}`` from ``env``."""

    def value(match: re.Match[str]) -> str:
        return env[match.group(1) or match.group(2)]

    return [re.sub(r"\$\{(\w+)\}|\$(\w+)", value, word) for word in shlex.split(line)]


@pytest.mark.parametrize("ci", sorted(ENVIRONMENTS))
def test_snippet_runs(ci: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each `flightlog` line of the snippet records, linked to the CI's commit and run."""
    for name, relative in REPORTS.items():
        (tmp_path / name).write_bytes(corpus_file(relative).read_bytes())
    monkeypatch.chdir(tmp_path)
    env = {**ENVIRONMENTS[ci], "DIGEST": DIGEST, "IMAGE": "api"}
    blank = dict.fromkeys(marker for _, marker, _ in PROVIDERS)
    runner = CliRunner(
        env={
            **blank,
            **env,
            "FLIGHTLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
            "FLIGHTLOG_HOME": str(tmp_path / "home"),
            "FLIGHTLOG_SERVER": "",
        }
    )
    commands = snippet_commands(ci)
    assert len(commands) >= 4
    for line in commands:
        args = expand(line, env)[1:]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{line}: {result.output}{result.stderr}"
    log = json.loads(runner.invoke(app, ["log", "--commit", SHA, "--json"]).stdout)["events"]
    assert len(log) >= len(commands)
    assert all(("pipeline_run", env.get("GITHUB_RUN_ID") or env["CI_PIPELINE_ID"]) in
               [tuple(r) for r in d["refs"]] for d in log)  # fmt: skip
