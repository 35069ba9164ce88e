"""JUnit XML: exact totals for every corpus report, failing tests, properties, hostile XML."""

from __future__ import annotations

import pytest

from flightlog.errors import MalformedInput
from flightlog.evidence import FailedTest, TestSummary, parse_tests
from tests.paths import corpus_file, corpus_files

# Counted by hand from each file's <testcase> elements and their <failure>, <error> and
# <skipped> children; duration is the root's time=, else the top-level suites' sum.
EXPECTED = {
    "gotestsum-junitxml-report.xml": (60, 13, 0, 5, 2.1),
    "jest-junit-suite-errors.xml": (2, 0, 2, 0, 0.646),
    "jest-junit.xml": (6, 4, 0, 1, 1.36),
    "nested-testsuites-junit.xml": (5, 3, 0, 0, 150.0),
    "pytest-horovod-junit.fail.xml": (5, 1, 0, 1, 2.481),
    "python-unittest-xmlrunner.xml": (8, 1, 1, 2, 0.001),
    "surefire-TEST-action.surefire.report.calc.StringUtilsTest.xml": (5, 2, 0, 1, 0.01),
    "surefire-TEST-action.surefire.report.email.EmailAddressTest.xml": (9, 2, 5, 0, 0.041),
}


def _parse(name: str) -> TestSummary:
    return parse_tests(corpus_file(f"junit/{name}").read_bytes(), name=name)


class TestCorpus:
    """Every JUnit file of the corpus."""

    def test_every_corpus_file_is_listed(self) -> None:
        """The expectations cover exactly the corpus files."""
        assert sorted(p.name for p in corpus_files("junit")) == sorted(EXPECTED)

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_totals(self, name: str) -> None:
        """Tests, failures, errors, skipped and duration are exactly what the file holds."""
        summary = _parse(name)
        tests, failures, errors, skipped, duration = EXPECTED[name]
        assert (summary.tests, summary.failures, summary.errors, summary.skipped) == (
            tests,
            failures,
            errors,
            skipped,
        )
        assert summary.duration == pytest.approx(duration)
        assert summary.format == "junit"
        assert len(summary.failed) == failures + errors
        assert summary.outcome == "failure"

    def test_failure_message_and_suite(self) -> None:
        """A failing pytest case carries its suite, class, name, message and type."""
        failed = _parse("pytest-horovod-junit.fail.xml").failed
        assert [(f.suite, f.classname, f.name, f.kind) for f in failed] == [
            ("pytest", "test.test_spark.SparkTests", "test_rsh_events", "failure")
        ]
        assert failed[0].message.startswith("self = <test_spark.SparkTests")
        assert failed[0].message.endswith("E   AssertionError: 143 != 0")

    def test_errors_without_message_use_the_text(self) -> None:
        """A jest suite that failed to compile is an error whose message is the element text."""
        failed = _parse("jest-junit-suite-errors.xml").failed
        assert [(f.suite, f.name, f.kind) for f in failed] == [
            ("libs/foo.spec.ts", "libs/foo.spec.ts", "error"),
            ("libs/bar.spec.ts", "libs/bar.spec.ts", "error"),
        ]
        assert failed[0].message.startswith("● Test suite failed to run")

    def test_nested_suites(self) -> None:
        """Cases in nested suites count once each and belong to their innermost suite."""
        summary = _parse("nested-testsuites-junit.xml")
        assert summary.suites == ("All tests", "tests", "packet", "TestA", "TestB")
        assert [(f.suite, f.name) for f in summary.failed] == [
            ("packet", "A"),
            ("TestA", "A"),
            ("TestB", "B"),
        ]

    def test_properties(self) -> None:
        """Suite properties are collected once per distinct name and value."""
        assert _parse("gotestsum-junitxml-report.xml").properties == (("go.version", "go7.7.7"),)

    def test_non_ascii_survives(self) -> None:
        """Non-ASCII text in messages is kept as written."""
        failed = _parse("surefire-TEST-action.surefire.report.email.EmailAddressTest.xml").failed
        assert any("ñandú" in f.message or "ñandú" in f.name for f in failed)


class TestOutcome:
    """The outcome follows failures and errors."""

    def test_all_passing(self) -> None:
        """A report without failures or errors is a success; skipped tests do not fail it."""
        xml = b'<testsuite name="s" time="1.5"><testcase name="a"/><testcase name="b"><skipped/></testcase></testsuite>'
        summary = parse_tests(xml, name="ok.xml")
        assert (summary.tests, summary.skipped, summary.passed, summary.outcome) == (
            2,
            1,
            1,
            "success",
        )
        assert summary.duration == 1.5
        assert summary.failed == ()

    def test_duration_falls_back_to_cases(self) -> None:
        """Without time= on the root or suites, the duration is the cases' sum."""
        xml = b'<testsuites><testsuite name="s"><testcase name="a" time="0.25"/><testcase name="b" time="1,000.5"/></testsuite></testsuites>'
        assert parse_tests(xml, name="t.xml").duration == 1000.75

    def test_case_with_failure_and_error_counts_once(self) -> None:
        """A case with both a failure and an error counts once, as a failure."""
        xml = b'<testsuite name="s"><testcase name="a"><error message="e"/><failure message="f"/></testcase></testsuite>'
        summary = parse_tests(xml, name="t.xml")
        assert (summary.tests, summary.failures, summary.errors) == (1, 1, 0)
        assert summary.failed == (FailedTest("s", "", "a", "failure", "f"),)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<testsuite name="&lol3;"><testcase name="a"/></testsuite>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite name="s"><testcase name="&xxe;"/></testsuite>"""


class TestBadInput:
    """Malformed and hostile reports fail with one error naming the file and the problem."""

    @pytest.mark.parametrize(
        ("data", "match"),
        [
            (BILLION_LAUGHS, r"^bad\.xml: XML entity declaration 'lol' refused"),
            (XXE, r"^bad\.xml: XML entity declaration 'xxe' refused"),
            (
                b"<testsuite><testcase name='a'>",
                r"^bad\.xml: invalid XML: no element found: line 1",
            ),
            (
                b"<testsuite><testcase name='a'></testsuite>",
                r"^bad\.xml: invalid XML: mismatched tag",
            ),
            (
                b"<html><body/></html>",
                r"^bad\.xml: not a JUnit XML report: the root element is <html>",
            ),
            (
                b"<testsuite><testcase name='a' time='soon'/></testsuite>",
                r"time 'soon' is not a number",
            ),
            (
                b"<testsuite><testcase name='a' time='-1'/></testsuite>",
                r"time '-1' is not a finite, non-negative number of seconds",
            ),
            (
                b"<testsuite><testcase name='a' time='1e999'/></testsuite>",
                r"time '1e999' is not a finite",
            ),
            (
                b"<testsuite time='nan'><testcase name='a'/></testsuite>",
                r"<testsuite name=''>: time 'nan' is not a finite",
            ),
            (b"", r"^bad\.xml: not a report: neither XML nor JSON"),
            (b'{"runs": []}', r"^bad\.xml: not a recognised report \(JSON, but none of: junit\)"),
        ],
    )
    def test_refused(self, data: bytes, match: str) -> None:
        """The error names the file and what is wrong with it."""
        with pytest.raises(MalformedInput, match=match):
            parse_tests(data, name="bad.xml")

    def test_truncated_corpus_file(self) -> None:
        """A corpus report cut in half is refused as invalid XML."""
        data = corpus_file("junit/jest-junit.xml").read_bytes()
        with pytest.raises(MalformedInput, match=r"^jest-junit\.xml: invalid XML: "):
            parse_tests(data[: len(data) // 2], name="jest-junit.xml")
