"""CI context: which repository, commit, branch, run, job and actor a pipeline step is.

Read from the environment variables each CI system documents (docs/ci.md has the table):
GitHub Actions, GitLab CI, Buildkite, CircleCI, Azure Pipelines, Bitbucket Pipelines and
Jenkins. The environment is passed in as a mapping, so detection is pure; command-line
flags override what it finds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["PROVIDERS", "CiContext", "detect_ci"]

_HEADS = "refs/heads/"


@dataclass(frozen=True)
class CiContext:
    """Where a pipeline step runs; every field is None when the CI does not say."""

    provider: str | None = None
    repository: str | None = None
    commit: str | None = None
    branch: str | None = None
    run_id: str | None = None
    run_url: str | None = None
    job: str | None = None
    actor: str | None = None
    runner_os: str | None = None
    runner_arch: str | None = None

    def override(self, **values: str | None) -> CiContext:
        """Return a copy with every given, non-blank value replacing the detected one."""
        given = {k: v.strip() for k, v in values.items() if v is not None and v.strip()}
        return dataclasses.replace(self, **given)


def _get(env: Mapping[str, str], *names: str) -> str | None:
    """Return the first of ``names`` set to a non-blank value in ``env``."""
    for name in names:
        value = env.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def _branch(ref: str | None) -> str | None:
    """Return the branch of a ``refs/heads/…`` ref (None for tags and other refs)."""
    if ref is None:
        return None
    if ref.startswith(_HEADS):
        return ref.removeprefix(_HEADS)
    return None if ref.startswith("refs/") else ref


def _github(env: Mapping[str, str]) -> CiContext:
    """GitHub Actions: "Variables reference", default environment variables."""
    repository = _get(env, "GITHUB_REPOSITORY")
    run_id = _get(env, "GITHUB_RUN_ID")
    server = _get(env, "GITHUB_SERVER_URL") or "https://github.com"
    attempt = _get(env, "GITHUB_RUN_ATTEMPT")
    url = f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else None
    if url and attempt and attempt != "1":
        url = f"{url}/attempts/{attempt}"
    return CiContext(
        provider="github-actions",
        repository=repository,
        commit=_get(env, "GITHUB_SHA"),
        # A pull request's run checks out a merge ref; its head branch is the one meant.
        branch=_get(env, "GITHUB_HEAD_REF") or _branch(_get(env, "GITHUB_REF")),
        run_id=run_id,
        run_url=url,
        job=_get(env, "GITHUB_JOB"),
        actor=_get(env, "GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR"),
        runner_os=_get(env, "RUNNER_OS"),
        runner_arch=_get(env, "RUNNER_ARCH"),
    )


def _gitlab(env: Mapping[str, str]) -> CiContext:
    """GitLab CI/CD: "Predefined CI/CD variables reference"."""
    branch = _get(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH")
    if branch is None and _get(env, "CI_COMMIT_TAG") is None:
        branch = _get(env, "CI_COMMIT_REF_NAME")
    return CiContext(
        provider="gitlab-ci",
        repository=_get(env, "CI_PROJECT_PATH"),
        commit=_get(env, "CI_COMMIT_SHA"),
        branch=branch,
        run_id=_get(env, "CI_PIPELINE_ID"),
        run_url=_get(env, "CI_PIPELINE_URL"),
        job=_get(env, "CI_JOB_NAME"),
        actor=_get(env, "GITLAB_USER_LOGIN"),
        runner_arch=_get(env, "CI_RUNNER_EXECUTABLE_ARCH"),
    )


def _buildkite(env: Mapping[str, str]) -> CiContext:
    """Buildkite: "Environment variables" of the agent."""
    return CiContext(
        provider="buildkite",
        repository=_get(env, "BUILDKITE_REPO"),
        commit=_get(env, "BUILDKITE_COMMIT"),
        branch=_get(env, "BUILDKITE_BRANCH"),
        run_id=_get(env, "BUILDKITE_BUILD_ID"),
        run_url=_get(env, "BUILDKITE_BUILD_URL"),
        job=_get(env, "BUILDKITE_LABEL", "BUILDKITE_STEP_KEY"),
        actor=_get(env, "BUILDKITE_BUILD_CREATOR", "BUILDKITE_BUILD_CREATOR_EMAIL"),
    )


def _circleci(env: Mapping[str, str]) -> CiContext:
    """CircleCI: "Project values and variables", built-in environment variables."""
    user, name = _get(env, "CIRCLE_PROJECT_USERNAME"), _get(env, "CIRCLE_PROJECT_REPONAME")
    return CiContext(
        provider="circleci",
        repository=f"{user}/{name}" if user and name else _get(env, "CIRCLE_REPOSITORY_URL"),
        commit=_get(env, "CIRCLE_SHA1"),
        branch=_get(env, "CIRCLE_BRANCH"),
        run_id=_get(env, "CIRCLE_WORKFLOW_ID", "CIRCLE_BUILD_NUM"),
        run_url=_get(env, "CIRCLE_BUILD_URL"),
        job=_get(env, "CIRCLE_JOB"),
        actor=_get(env, "CIRCLE_USERNAME"),
    )


def _azure(env: Mapping[str, str]) -> CiContext:
    """Azure Pipelines: "Predefined variables" (names upper-cased, dots as underscores)."""
    collection, project = _get(env, "SYSTEM_COLLECTIONURI"), _get(env, "SYSTEM_TEAMPROJECT")
    build_id = _get(env, "BUILD_BUILDID")
    url = None
    if collection and project and build_id:
        url = f"{collection.rstrip('/')}/{project}/_build/results?buildId={build_id}"
    return CiContext(
        provider="azure-pipelines",
        repository=_get(env, "BUILD_REPOSITORY_NAME"),
        commit=_get(env, "BUILD_SOURCEVERSION"),
        branch=_branch(_get(env, "SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCH")),
        run_id=build_id,
        run_url=url,
        job=_get(env, "SYSTEM_JOBDISPLAYNAME", "AGENT_JOBNAME"),
        actor=_get(env, "BUILD_REQUESTEDFOREMAIL", "BUILD_REQUESTEDFOR"),
        runner_os=_get(env, "AGENT_OS"),
        runner_arch=_get(env, "AGENT_OSARCHITECTURE"),
    )


def _bitbucket(env: Mapping[str, str]) -> CiContext:
    """Bitbucket Pipelines: "Variables and secrets", default variables."""
    origin = _get(env, "BITBUCKET_GIT_HTTP_ORIGIN")
    number = _get(env, "BITBUCKET_BUILD_NUMBER")
    return CiContext(
        provider="bitbucket-pipelines",
        repository=_get(env, "BITBUCKET_REPO_FULL_NAME"),
        commit=_get(env, "BITBUCKET_COMMIT"),
        branch=_get(env, "BITBUCKET_BRANCH"),
        run_id=_get(env, "BITBUCKET_PIPELINE_UUID") or number,
        run_url=f"{origin}/pipelines/results/{number}" if origin and number else None,
        job=_get(env, "BITBUCKET_STEP_UUID"),
        actor=_get(env, "BITBUCKET_STEP_TRIGGERER_UUID"),
    )


def _jenkins(env: Mapping[str, str]) -> CiContext:
    """Jenkins: core variables, the Git plugin's and multibranch pipelines' (``BRANCH_NAME``)."""
    branch = _get(env, "CHANGE_BRANCH", "BRANCH_NAME")
    if branch is None and (git_branch := _get(env, "GIT_BRANCH")) is not None:
        # The Git plugin names the remote-tracking branch: origin/main.
        branch = git_branch.split("/", 1)[1] if git_branch.startswith("origin/") else git_branch
    return CiContext(
        provider="jenkins",
        repository=_get(env, "GIT_URL"),
        commit=_get(env, "GIT_COMMIT"),
        branch=branch,
        run_id=_get(env, "BUILD_TAG", "BUILD_NUMBER"),
        run_url=_get(env, "BUILD_URL"),
        job=_get(env, "JOB_NAME"),
        actor=_get(env, "BUILD_USER_ID", "CHANGE_AUTHOR"),
    )


# Each CI's own marker variable, checked in this order; Jenkins last, as JENKINS_URL
# may leak into the environment of other systems' agents.
PROVIDERS: tuple[tuple[str, str, Callable[[Mapping[str, str]], CiContext]], ...] = (
    ("github-actions", "GITHUB_ACTIONS", _github),
    ("gitlab-ci", "GITLAB_CI", _gitlab),
    ("buildkite", "BUILDKITE", _buildkite),
    ("circleci", "CIRCLECI", _circleci),
    ("azure-pipelines", "TF_BUILD", _azure),
    ("bitbucket-pipelines", "BITBUCKET_BUILD_NUMBER", _bitbucket),
    ("jenkins", "JENKINS_URL", _jenkins),
)


def detect_ci(env: Mapping[str, str]) -> CiContext:
    """Return the context of the CI whose marker variable is set, or an empty context."""
    for _name, marker, read in PROVIDERS:
        if _get(env, marker) is not None:
            return read(env)
    return CiContext()
