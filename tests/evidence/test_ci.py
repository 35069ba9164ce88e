"""CI context detection: one realistic environment per CI system, and flag overrides."""

from __future__ import annotations

import pytest

from flightlog.pipeline.ci import PROVIDERS, CiContext, detect_ci

SHA = "4f2a9c1e0d7b3a5c6e8f9a0b1c2d3e4f5a6b7c8d"
GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "acme/payments",
    "GITHUB_SHA": SHA,
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_HEAD_REF": "",
    "GITHUB_RUN_ID": "8812",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_JOB": "test",
    "GITHUB_ACTOR": "alice",
    "RUNNER_OS": "Linux",
    "RUNNER_ARCH": "X64",
}


class TestGitHubActions:
    """GitHub Actions default variables."""

    def test_push(self) -> None:
        """A push run names the repository, the branch of its ref, the run URL and the runner."""
        assert detect_ci(GITHUB_ENV) == CiContext(
            provider="github-actions",
            repository="acme/payments",
            commit=SHA,
            branch="main",
            run_id="8812",
            run_url="https://github.com/acme/payments/actions/runs/8812",
            job="test",
            actor="alice",
            runner_os="Linux",
            runner_arch="X64",
        )

    def test_pull_request_rerun(self) -> None:
        """A pull request run uses the head branch; a re-run's URL names its attempt."""
        env = GITHUB_ENV | {
            "GITHUB_REF": "refs/pull/12/merge",
            "GITHUB_HEAD_REF": "feature/PAY-123",
            "GITHUB_RUN_ATTEMPT": "2",
            "GITHUB_TRIGGERING_ACTOR": "bob",
        }
        ctx = detect_ci(env)
        assert (ctx.branch, ctx.actor) == ("feature/PAY-123", "bob")
        assert ctx.run_url == "https://github.com/acme/payments/actions/runs/8812/attempts/2"

    def test_tag(self) -> None:
        """A tag run has no branch."""
        assert detect_ci(GITHUB_ENV | {"GITHUB_REF": "refs/tags/v1.2.0"}).branch is None


def test_gitlab_ci() -> None:
    """GitLab CI predefined variables; a merge request pipeline names its source branch."""
    env = {
        "GITLAB_CI": "true",
        "CI_PROJECT_PATH": "acme/payments",
        "CI_COMMIT_SHA": SHA,
        "CI_COMMIT_REF_NAME": "main",
        "CI_COMMIT_BRANCH": "main",
        "CI_PIPELINE_ID": "1234",
        "CI_PIPELINE_URL": "https://gitlab.com/acme/payments/-/pipelines/1234",
        "CI_JOB_NAME": "unit-tests",
        "GITLAB_USER_LOGIN": "alice",
        "CI_RUNNER_EXECUTABLE_ARCH": "linux/amd64",
    }
    assert detect_ci(env) == CiContext(
        provider="gitlab-ci",
        repository="acme/payments",
        commit=SHA,
        branch="main",
        run_id="1234",
        run_url="https://gitlab.com/acme/payments/-/pipelines/1234",
        job="unit-tests",
        actor="alice",
        runner_arch="linux/amd64",
    )
    mr = env | {"CI_COMMIT_BRANCH": "", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "fix/OPS-7"}
    assert detect_ci(mr).branch == "fix/OPS-7"
    tag = env | {"CI_COMMIT_BRANCH": "", "CI_COMMIT_TAG": "v1", "CI_COMMIT_REF_NAME": "v1"}
    assert detect_ci(tag).branch is None


def test_jenkins() -> None:
    """Jenkins core and Git plugin variables; origin/ is cut from GIT_BRANCH."""
    env = {
        "JENKINS_URL": "https://jenkins.example.com/",
        "GIT_URL": "https://github.com/acme/payments.git",
        "GIT_COMMIT": SHA,
        "GIT_BRANCH": "origin/main",
        "BUILD_TAG": "jenkins-payments-42",
        "BUILD_NUMBER": "42",
        "BUILD_URL": "https://jenkins.example.com/job/payments/42/",
        "JOB_NAME": "payments",
        "BUILD_USER_ID": "alice",
    }
    assert detect_ci(env) == CiContext(
        provider="jenkins",
        repository="https://github.com/acme/payments.git",
        commit=SHA,
        branch="main",
        run_id="jenkins-payments-42",
        run_url="https://jenkins.example.com/job/payments/42/",
        job="payments",
        actor="alice",
    )
    assert detect_ci(env | {"BRANCH_NAME": "release/2"}).branch == "release/2"


def test_circleci() -> None:
    """CircleCI built-in variables; the repository is user/name."""
    env = {
        "CIRCLECI": "true",
        "CIRCLE_PROJECT_USERNAME": "acme",
        "CIRCLE_PROJECT_REPONAME": "payments",
        "CIRCLE_SHA1": SHA,
        "CIRCLE_BRANCH": "main",
        "CIRCLE_WORKFLOW_ID": "6c7a7e8f-1b2c-4d5e-8f90-a1b2c3d4e5f6",
        "CIRCLE_BUILD_NUM": "77",
        "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/payments/77",
        "CIRCLE_JOB": "test",
        "CIRCLE_USERNAME": "alice",
    }
    assert detect_ci(env) == CiContext(
        provider="circleci",
        repository="acme/payments",
        commit=SHA,
        branch="main",
        run_id="6c7a7e8f-1b2c-4d5e-8f90-a1b2c3d4e5f6",
        run_url="https://circleci.com/gh/acme/payments/77",
        job="test",
        actor="alice",
    )


def test_buildkite() -> None:
    """Buildkite agent variables."""
    env = {
        "BUILDKITE": "true",
        "BUILDKITE_REPO": "git@github.com:acme/payments.git",
        "BUILDKITE_COMMIT": SHA,
        "BUILDKITE_BRANCH": "main",
        "BUILDKITE_BUILD_ID": "0190b0a4-7e1c-4a53-9d1f-3a1b2c3d4e5f",
        "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/payments/builds/15",
        "BUILDKITE_LABEL": ":pytest: tests",
        "BUILDKITE_BUILD_CREATOR": "Alice Example",
    }
    assert detect_ci(env) == CiContext(
        provider="buildkite",
        repository="git@github.com:acme/payments.git",
        commit=SHA,
        branch="main",
        run_id="0190b0a4-7e1c-4a53-9d1f-3a1b2c3d4e5f",
        run_url="https://buildkite.com/acme/payments/builds/15",
        job=":pytest: tests",
        actor="Alice Example",
    )


def test_azure_pipelines() -> None:
    """Azure Pipelines predefined variables; the run URL is built from collection and project."""
    env = {
        "TF_BUILD": "True",
        "BUILD_REPOSITORY_NAME": "acme/payments",
        "BUILD_SOURCEVERSION": SHA,
        "BUILD_SOURCEBRANCH": "refs/heads/main",
        "BUILD_BUILDID": "991",
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/",
        "SYSTEM_TEAMPROJECT": "payments",
        "SYSTEM_JOBDISPLAYNAME": "Run tests",
        "BUILD_REQUESTEDFOREMAIL": "alice@example.com",
        "AGENT_OS": "Linux",
        "AGENT_OSARCHITECTURE": "X64",
    }
    assert detect_ci(env) == CiContext(
        provider="azure-pipelines",
        repository="acme/payments",
        commit=SHA,
        branch="main",
        run_id="991",
        run_url="https://dev.azure.com/acme/payments/_build/results?buildId=991",
        job="Run tests",
        actor="alice@example.com",
        runner_os="Linux",
        runner_arch="X64",
    )
    pr = env | {
        "BUILD_SOURCEBRANCH": "refs/pull/5/merge",
        "SYSTEM_PULLREQUEST_SOURCEBRANCH": "refs/heads/feature/x",
    }
    assert detect_ci(pr).branch == "feature/x"


def test_bitbucket_pipelines() -> None:
    """Bitbucket Pipelines default variables; the run URL is built from the origin."""
    env = {
        "BITBUCKET_BUILD_NUMBER": "31",
        "BITBUCKET_REPO_FULL_NAME": "acme/payments",
        "BITBUCKET_COMMIT": SHA,
        "BITBUCKET_BRANCH": "main",
        "BITBUCKET_PIPELINE_UUID": "{0b6f1d5e-1111-2222-3333-444455556666}",
        "BITBUCKET_GIT_HTTP_ORIGIN": "http://bitbucket.org/acme/payments",
        "BITBUCKET_STEP_UUID": "{aaaa-bbbb}",
        "BITBUCKET_STEP_TRIGGERER_UUID": "{cccc-dddd}",
    }
    assert detect_ci(env) == CiContext(
        provider="bitbucket-pipelines",
        repository="acme/payments",
        commit=SHA,
        branch="main",
        run_id="{0b6f1d5e-1111-2222-3333-444455556666}",
        run_url="http://bitbucket.org/acme/payments/pipelines/results/31",
        job="{aaaa-bbbb}",
        actor="{cccc-dddd}",
    )


class TestDetection:
    """Choosing the CI and overriding what it says."""

    def test_no_ci(self) -> None:
        """Outside any CI every field is None."""
        assert detect_ci({"HOME": "/root", "PATH": "/usr/bin"}) == CiContext()

    def test_blank_marker_is_not_a_ci(self) -> None:
        """A marker variable set to an empty string does not select its CI."""
        assert detect_ci({"GITHUB_ACTIONS": "", "GITHUB_SHA": SHA}) == CiContext()

    def test_jenkins_url_leaking_into_another_ci(self) -> None:
        """A GitLab job with JENKINS_URL in its environment is still GitLab."""
        env = {"GITLAB_CI": "true", "JENKINS_URL": "https://j/", "CI_COMMIT_SHA": SHA}
        assert detect_ci(env).provider == "gitlab-ci"

    @pytest.mark.parametrize(("name", "marker"), [(n, m) for n, m, _ in PROVIDERS])
    def test_each_marker(self, name: str, marker: str) -> None:
        """Each CI is recognised by its own marker variable alone."""
        assert detect_ci({marker: "true"}).provider == name

    def test_flags_override(self) -> None:
        """Given flags replace detected values; None and blank flags leave them."""
        ctx = detect_ci(GITHUB_ENV).override(
            commit="abc123", branch=None, actor="  ", repository="acme/other"
        )
        assert (ctx.commit, ctx.branch, ctx.actor, ctx.repository) == (
            "abc123",
            "main",
            "alice",
            "acme/other",
        )
