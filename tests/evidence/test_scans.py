"""Security reports: exact counts for every SARIF, CycloneDX, Trivy and Grype corpus file."""

from __future__ import annotations

import json

import pytest

from flightlog.errors import InputTooLarge, MalformedInput
from flightlog.evidence import Finding, ScanSummary, format_names, parse_report, parse_scan
from tests.paths import corpus_file, corpus_files

# Counted by hand (jq over results[], vulnerabilities[], Results[].Vulnerabilities[] and
# matches[]), each severity by the documented mapping (docs/evidence.md):
# format, tool, tool version, artifact, (critical, high, medium, low, unknown).
EXPECTED: dict[str, tuple[str, str, str | None, str | None, tuple[int, int, int, int, int]]] = {
    "sarif/codeql-lgtm-valid-sarif.sarif": (
        "sarif",
        "LGTM.com, CodeQL command-line toolchain",
        "1.24.0-SNAPSHOT, 2.0.0",
        None,
        (0, 0, 0, 3, 0),  # no security-severity, no level: the rules' default level note
    ),
    "sarif/dependency-check-6.1.2.sarif": (
        "sarif",
        "dependency-check",
        "6.1.2",
        None,
        (0, 13, 0, 0, 0),  # 13 results, all level=error
    ),
    "sarif/grype-0.34.7-cxf-3.4.6.sarif": (
        "sarif",
        "Grype",
        "0.34.7",
        None,
        (1, 11, 4, 6, 0),  # rule scores: 9.8; 7.5 x5, 7.8 x6; 5.3, 6.1 x2, 6.5; 2.1 x6
    ),
    "sarif/semgrep-oss-1.69.0-issue_10191.sarif": (
        "sarif",
        "Semgrep OSS",
        "1.69.0",
        None,
        (34, 1, 42, 0, 0),  # security-severity written as CRITICAL / HIGH / MEDIUM
    ),
    "sarif/snyk-container-result.sarif": (
        "sarif",
        "Snyk Container",
        "1.0.0-monorepo",
        None,
        (0, 0, 1, 0, 0),  # level=note, but security-severity 6.5 wins
    ),
    "sarif/trivy-alpine-310.sarif": (
        "sarif",
        "Trivy",
        "dev",
        "testdata/fixtures/images/alpine-310.tar.gz",
        (0, 0, 4, 0, 0),  # security-severity 5.3 x4
    ),
    "cyclonedx/bom-examples.vex.cisa-case-3.cdx.json": (
        "cyclonedx",
        "unknown",
        None,
        None,
        (2, 2, 6, 9, 0),  # rating "none" x9 counts as low
    ),
    "cyclonedx/bom-examples.vex.cisa-case-8.cdx.json": (
        "cyclonedx",
        "unknown",
        None,
        None,
        (1, 0, 1, 6, 0),
    ),
    "cyclonedx/grype-0.41.0-log4j.cdx.json": (
        "cyclonedx",
        "grype",
        "0.41.0",
        None,
        (4, 1, 3, 0, 0),
    ),
    "cyclonedx/trivy-pom.cdx.json": ("cyclonedx", "trivy", "dev", None, (1, 1, 0, 0, 0)),
    "cyclonedx/trivy-alpine-310.trivy-report.json": (
        "trivy",
        "Trivy",
        "dev",
        "testdata/fixtures/images/alpine-310.tar.gz",
        (0, 0, 4, 0, 0),
    ),
    "cyclonedx/grype-0.94.0-busybox-1.32.1.grype-report.json": (
        "grype",
        "grype",
        "0.94.0",
        "pkg:oci/busybox@sha256%3A123b1fd3a44eaaf7322e08e9175d9ca57d49ebf2955d4fa1f5607e99dc31bcbb",
        (1, 10, 2, 2, 0),
    ),
}


def _parse(relative: str, fmt: str | None = None) -> ScanSummary:
    return parse_scan(corpus_file(relative).read_bytes(), name=relative, format=fmt)


class TestCorpus:
    """Every security report of the corpus."""

    def test_every_corpus_file_is_listed(self) -> None:
        """The expectations cover exactly the SARIF and CycloneDX folders."""
        files = corpus_files("sarif") + corpus_files("cyclonedx")
        assert sorted(f"{p.parent.name}/{p.name}" for p in files) == sorted(EXPECTED)

    @pytest.mark.parametrize("relative", sorted(EXPECTED))
    def test_summary(self, relative: str) -> None:
        """Format (detected), tool, version, artifact and counts are what the file holds."""
        fmt, tool, version, artifact, counts = EXPECTED[relative]
        summary = _parse(relative)
        assert (summary.format, summary.tool, summary.tool_version, summary.artifact) == (
            fmt,
            tool,
            version,
            artifact,
        )
        assert tuple(summary.counts.as_dict().values()) == counts
        assert len(summary.findings) == summary.counts.total == sum(counts)

    @pytest.mark.parametrize("relative", sorted(EXPECTED))
    def test_named_format_agrees(self, relative: str) -> None:
        """Naming the format gives the same summary as detecting it."""
        assert _parse(relative, EXPECTED[relative][0]) == _parse(relative)


class TestFindings:
    """What a finding carries, per format."""

    def test_trivy_native(self) -> None:
        """Trivy findings name package, installed and fixed version and the target."""
        first = _parse("cyclonedx/trivy-alpine-310.trivy-report.json").findings[0]
        assert first == Finding(
            id="CVE-2019-1549",
            severity="medium",
            package="libcrypto1.1",
            version="1.1.1c-r0",
            fixed_version="1.1.1d-r0",
            location="testdata/fixtures/images/alpine-310.tar.gz (alpine 3.10.2)",
            title="openssl: information disclosure in fork()",
        )

    def test_grype_native(self) -> None:
        """Grype findings carry the fix version when Grype knows one."""
        findings = _parse("cyclonedx/grype-0.94.0-busybox-1.32.1.grype-report.json").findings
        fixed = [f for f in findings if f.fixed_version]
        assert [
            (f.id, f.severity, f.package, f.version, f.fixed_version, f.location) for f in fixed
        ] == [("CVE-2021-42376", "medium", "busybox", "1.32.1", "1.34.0", "/bin/[")]

    def test_sarif_location_and_rule(self) -> None:
        """SARIF findings name the rule and the file:line of the first location."""
        findings = _parse("sarif/codeql-lgtm-valid-sarif.sarif").findings
        assert (findings[0].id, findings[0].location, findings[0].package) == (
            "js/unused-local-variable",
            "main.js:2",
            None,
        )

    def test_cyclonedx_resolves_components_and_vex_state(self) -> None:
        """CycloneDX findings resolve the affected bom-ref and keep the VEX analysis state."""
        findings = _parse("cyclonedx/grype-0.41.0-log4j.cdx.json").findings
        assert (findings[0].id, findings[0].package, findings[0].version, findings[0].state) == (
            "CVE-2021-44228",
            "log4j-core",
            "2.13.2",
            "in_triage",
        )
        vex = _parse("cyclonedx/bom-examples.vex.cisa-case-3.cdx.json").findings
        states = sorted({f.state for f in vex if f.state})
        assert states == ["exploitable", "in_triage", "not_affected", "resolved"]
        assert vex[0].package == "GHI"
        assert vex[0].version == "17.4"

    def test_cyclonedx_highest_rating_wins(self) -> None:
        """Of several ratings (ghsa critical, nvd v2 medium …) the most severe counts."""
        first = _parse("cyclonedx/trivy-pom.cdx.json").findings[0]
        assert (first.id, first.severity, first.package) == (
            "CVE-2020-9548",
            "critical",
            "jackson-databind",
        )


def _sarif(result: dict[str, object], rule: dict[str, object] | None = None) -> bytes:
    run = {"tool": {"driver": {"name": "t", "rules": [rule] if rule else []}}, "results": [result]}
    return json.dumps({"version": "2.1.0", "runs": [run]}).encode()


class TestSarifSeverity:
    """The documented SARIF mapping."""

    @pytest.mark.parametrize(
        ("result", "rule", "expected"),
        [
            ({"ruleId": "r", "properties": {"security-severity": "9.0"}}, None, "critical"),
            ({"ruleId": "r", "properties": {"security-severity": 8.9}}, None, "high"),
            ({"ruleId": "r", "properties": {"security-severity": "4.0"}}, None, "medium"),
            ({"ruleId": "r", "properties": {"security-severity": "3.9"}}, None, "low"),
            ({"ruleId": "r", "properties": {"security-severity": "0.0"}}, None, "low"),
            (
                {"ruleId": "r", "level": "note"},
                {"id": "r", "properties": {"security-severity": "7"}},
                "high",
            ),
            ({"ruleId": "r", "level": "error"}, None, "high"),
            ({"ruleId": "r", "level": "warning"}, None, "medium"),
            ({"ruleId": "r", "level": "note"}, None, "low"),
            ({"ruleId": "r", "level": "none"}, None, "low"),
            ({"ruleId": "r"}, None, "medium"),
            ({"ruleId": "r"}, {"id": "r", "defaultConfiguration": {"level": "error"}}, "high"),
            (
                {"ruleId": "r", "level": "note", "properties": {"security-severity": "11"}},
                None,
                "low",
            ),
            ({"ruleId": "r", "properties": {"security-severity": "High"}}, None, "high"),
        ],
    )
    def test_mapping(
        self, result: dict[str, object], rule: dict[str, object] | None, expected: str
    ) -> None:
        """security-severity (result, then rule) wins; else the level; else warning."""
        summary = parse_scan(_sarif(result, rule), name="s.sarif")
        assert summary.findings[0].severity == expected


class TestBadInput:
    """Malformed reports fail with one error naming the file and the problem."""

    @pytest.mark.parametrize(
        ("data", "fmt", "match"),
        [
            (
                b'{"version": "2.1.0", "runs": [',
                None,
                r"^r\.json: invalid JSON at line 1, column 31",
            ),
            (
                b'{"hello": "world"}',
                None,
                r"^r\.json: not a recognised report \(JSON, but none of: cyclonedx, grype, sarif, trivy\)",
            ),
            (
                b'{"hello": "world"}',
                "sarif",
                r'^r\.json: not a SARIF log: expected a JSON object with a "runs" array',
            ),
            (
                b'{"version": "2.0.0", "runs": []}',
                "sarif",
                r"^r\.json: unsupported SARIF version '2\.0\.0'",
            ),
            (
                b'{"version": "2.1.0", "runs": [{"results": []}]}',
                None,
                r"runs\[0\]\.tool\.driver\.name: missing",
            ),
            (
                b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [1]}]}',
                None,
                r"runs\[0\]\.results\[0\]: expected an object",
            ),
            (
                b'{"bomFormat": "CycloneDX", "vulnerabilities": [{"ratings": []}]}',
                None,
                r"vulnerabilities\[0\]\.id: missing",
            ),
            (b'{"bomFormat": "SPDX"}', "cyclonedx", r"not a CycloneDX document"),
            (
                b'{"SchemaVersion": 1, "ArtifactName": "x"}',
                None,
                r"unsupported Trivy report SchemaVersion 1",
            ),
            (
                b'{"matches": [{}], "descriptor": {}}',
                None,
                r"matches\[0\]\.vulnerability\.id: missing",
            ),
            (
                b'{"x": 1}',
                "nmap",
                r"unknown report format 'nmap' \(known: cyclonedx, grype, sarif, trivy\)",
            ),
            (b"\xff\xfe{}", None, r"not a report: neither XML nor JSON"),
            (b'{"a": "\xff"}', None, r"invalid UTF-8 at byte 7"),
            (
                b"<testsuite/>",
                None,
                r"not a recognised report \(XML, but none of: cyclonedx, grype, sarif, trivy\)",
            ),
            (b"[" * 100_000, None, r"invalid JSON"),
        ],
    )
    def test_refused(self, data: bytes, fmt: str | None, match: str) -> None:
        """The error names the file and what is wrong."""
        with pytest.raises(MalformedInput, match=match):
            parse_scan(data, name="r.json", format=fmt)

    @pytest.mark.parametrize("relative", sorted(EXPECTED))
    def test_truncated(self, relative: str) -> None:
        """Every corpus report cut short is refused as invalid JSON."""
        data = corpus_file(relative).read_bytes()
        with pytest.raises(MalformedInput, match=r"invalid JSON at line"):
            parse_scan(data[: len(data) - 20], name=relative)

    def test_size_limit(self) -> None:
        """A report over the limit is refused before it is parsed."""
        with pytest.raises(
            InputTooLarge, match=r"^big\.json: 11 bytes exceed the report limit of 10$"
        ):
            parse_report(b'{"runs": 1}', name="big.json", max_bytes=10)

    def test_registry_lists_every_format(self) -> None:
        """The registry finds each format module of the package."""
        assert format_names() == ["cyclonedx", "grype", "junit", "sarif", "trivy"]
        assert format_names("tests") == ["junit"]
