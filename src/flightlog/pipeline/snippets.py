"""Ready pipeline snippets that ``flightlog init`` prints, one per CI system (pure).

Each snippet is a complete pipeline with one ``flightlog`` line per step: test results
(recorded even when the tests fail), the build and its artifact, a security scan, and the
deployment's start and outcome, ending with ``flightlog flush`` so a step spooled while the
server was unavailable is sent before the runner goes away (docs/ci.md).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["GITLAB_TEMPLATE", "SNIPPETS", "render"]

_GITLAB_JOB = """\
.flightlog:
  variables:
    FLIGHTLOG_HOME: "$CI_PROJECT_DIR/.flightlog"
    FLIGHTLOG_PIP: "flightlog==@VERSION@"
  before_script:
    - python3 -m pip install --quiet "$FLIGHTLOG_PIP"
  after_script:
    - flightlog flush || true
  cache:
    key: flightlog-spool
    paths:
      - .flightlog/spool/
"""

GITLAB_TEMPLATE = (
    """\
# Flightlog for GitLab CI (ci/flightlog.gitlab-ci.yml): include this file and extend
# `.flightlog` in every job that records evidence.
#
#   include:
#     - remote: https://<where Flightlog lives>/ci/flightlog.gitlab-ci.yml
#
# Set the CI/CD variables FLIGHTLOG_SERVER and FLIGHTLOG_TOKEN (masked, ingest scope).
# A step the server cannot take is spooled under FLIGHTLOG_HOME; the after_script and the
# cache send it later instead of losing it.
"""
    + _GITLAB_JOB
)
"""The template GitLab projects include (``ci/flightlog.gitlab-ci.yml`` holds it rendered)."""

_GITHUB = """\
# .github/workflows/release.yml: every step's evidence recorded in Flightlog.
# Set the repository variable FLIGHTLOG_SERVER and the secret FLIGHTLOG_TOKEN (ingest scope).
name: release
on:
  push:
    branches: [main]
env:
  FLIGHTLOG_SERVER: ${{ vars.FLIGHTLOG_SERVER }}
  FLIGHTLOG_TOKEN: ${{ secrets.FLIGHTLOG_TOKEN }}
  IMAGE: ghcr.io/${{ github.repository }}
jobs:
  release:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      packages: write
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: python -m pip install "flightlog==@VERSION@"
      - run: pytest --junitxml=report.xml
      - if: always()
        run: flightlog record test --junit report.xml --env ci
      - id: build
        uses: docker/build-push-action@v6
        with:
          push: true
          tags: ${{ env.IMAGE }}:${{ github.sha }}
      - env:
          DIGEST: ${{ steps.build.outputs.digest }}
        run: |
          flightlog record build --artifact "$IMAGE@$DIGEST" --version "$GITHUB_SHA"
          trivy image --format sarif --output trivy.sarif "$IMAGE@$DIGEST"
          flightlog record scan trivy.sarif --artifact "$IMAGE@$DIGEST"
      - id: deploy
        env:
          DIGEST: ${{ steps.build.outputs.digest }}
        run: |
          flightlog record deploy --service @SERVICE@ --env @ENV@ --artifact "$IMAGE@$DIGEST" --status started
          ./deploy.sh "$IMAGE@$DIGEST"
          flightlog record deploy --service @SERVICE@ --env @ENV@ --artifact "$IMAGE@$DIGEST" --status succeeded
      - if: failure() && steps.deploy.outcome == 'failure'
        env:
          DIGEST: ${{ steps.build.outputs.digest }}
        run: flightlog record deploy --service @SERVICE@ --env @ENV@ --artifact "$IMAGE@$DIGEST" --status failed
      - if: always()
        run: flightlog flush
"""

_GITLAB = (
    """\
# .gitlab-ci.yml: every stage's evidence recorded in Flightlog.
# Set the CI/CD variables FLIGHTLOG_SERVER and FLIGHTLOG_TOKEN (masked, ingest scope).
# `.flightlog` is also ci/flightlog.gitlab-ci.yml, to `include:` instead of copying.
stages: [test, build, deploy]

default:
  image: python:3.11

variables:
  IMAGE: $CI_REGISTRY_IMAGE

"""
    + _GITLAB_JOB
    + """
test:
  stage: test
  extends: .flightlog
  script:
    - pytest --junitxml=report.xml && status=0 || status=$?
    - flightlog record test --junit report.xml --env ci
    - exit $status

build:
  stage: build
  extends: .flightlog
  script:
    - ./build.sh "$IMAGE:$CI_COMMIT_SHA" > digest.txt
    - export DIGEST=$(cat digest.txt)
    - flightlog record build --artifact "$IMAGE@$DIGEST" --version "$CI_COMMIT_SHA"
    - grype "$IMAGE@$DIGEST" -o json > grype.json
    - flightlog record scan grype.json --artifact "$IMAGE@$DIGEST"
  artifacts:
    paths: [digest.txt]

deploy:
  stage: deploy
  extends: .flightlog
  environment: @ENV@
  script:
    - export DIGEST=$(cat digest.txt)
    - flightlog record deploy --service @SERVICE@ --env @ENV@ --artifact "$IMAGE@$DIGEST" --status started
    - ./deploy.sh "$IMAGE@$DIGEST" && status=0 || status=$?
    - flightlog record deploy --service @SERVICE@ --env @ENV@ --artifact "$IMAGE@$DIGEST" --status $([ $status = 0 ] && echo succeeded || echo failed)
    - exit $status
"""
)

SNIPPETS: Mapping[str, str] = {"github-actions": _GITHUB, "gitlab-ci": _GITLAB}
"""The pipeline snippet of each CI system ``flightlog init`` knows."""


def render(
    template: str, *, version: str, service: str = "api", environment: str = "production"
) -> str:
    """Fill in a snippet's placeholders: the Flightlog version, service and environment."""
    return (
        template.replace("@VERSION@", version)
        .replace("@SERVICE@", service)
        .replace("@ENV@", environment)
    )
