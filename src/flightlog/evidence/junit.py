"""JUnit XML test reports (Ant/Surefire dialect, as pytest, Jest, Go and Maven write it).

The XML is parsed by defusedxml, which refuses entity declarations and external
references (billion laughs, XXE), and read through junitparser. Totals are counted from
the ``<testcase>`` elements the file holds, at any nesting depth, not taken from the
suites' ``tests=``/``failures=`` attributes, which tools fill in inconsistently.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

# defusedxml ships no type information (types-defusedxml is not a dependency).
import defusedxml  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]
from junitparser import Error, Failure, Skipped, TestCase

from flightlog.evidence.interface import Report
from flightlog.evidence.model import FailedTest, TestSummary

__all__ = ["FORMAT", "JUnitFormat"]

_SUITE = "testsuite"
_SUITES = "testsuites"
_CASE = "testcase"


def _root(report: Report) -> Element:
    """Parse the report's XML safely, naming what is wrong with hostile or broken input."""
    try:
        return fromstring(report.data)  # type: ignore[no-any-return]
    except defusedxml.EntitiesForbidden as exc:
        raise report.fail(
            f"XML entity declaration {exc.name!r} refused "
            "(entity expansion and external entities are not allowed in reports)"
        ) from exc
    except defusedxml.ExternalReferenceForbidden as exc:
        raise report.fail(f"external XML reference refused: {exc.sysid or exc.pubid}") from exc
    except defusedxml.DefusedXmlException as exc:
        raise report.fail(f"XML construct refused: {exc}") from exc
    except ParseError as exc:
        raise report.fail(f"invalid XML: {exc}") from exc


def _seconds(report: Report, elem: Element) -> float | None:
    """Return an element's ``time`` attribute in seconds, None if absent."""
    raw = elem.get("time")
    if raw is None:
        return None
    value: float | None
    try:
        value = float(raw)
    except ValueError:
        value = _lenient_seconds(report, elem, raw)
        if value is None:
            return None
    if not math.isfinite(value) or value < 0:
        raise report.fail(
            f"<{elem.tag} name={elem.get('name', '')!r}>: time {raw!r} is not a finite, "
            "non-negative number of seconds"
        )
    return value


def _lenient_seconds(report: Report, elem: Element, raw: str) -> float | None:
    """Read a ``time`` that is blank or groups thousands ("1,234.5"), or say it is no number."""
    if not raw.strip():
        return None
    try:
        # Some writers group thousands; the comma is never a decimal point here.
        return float(raw.replace(",", ""))
    except ValueError:
        raise report.fail(
            f"<{elem.tag} name={elem.get('name', '')!r}>: time {raw!r} is not a number"
        ) from None


@dataclass
class _Tally:
    """Running totals while walking the suites."""

    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    case_seconds: float = 0.0
    # Cases' times are read only when the suites do not state the run's duration.
    time_cases: bool = True


def _suites(elem: Element) -> Iterator[Element]:
    """Yield the ``<testsuite>`` elements directly under ``elem``."""
    return (child for child in elem if child.tag == _SUITE)


def _case(elem: Element) -> TestCase:
    """Wrap a ``<testcase>`` element in junitparser's view of it."""
    case: TestCase = TestCase.fromelem(elem)  # type: ignore[no-untyped-call]
    return case


def _message(result: Failure | Error) -> str:
    """Return a failure's message attribute, else its text, stripped."""
    message: Any = result.message
    if isinstance(message, str) and message.strip():
        return message.strip()
    body: Any = result.text
    return body.strip() if isinstance(body, str) else ""


class JUnitFormat:
    """JUnit XML: ``<testsuites>`` or a single ``<testsuite>`` root."""

    name = "junit"
    kind: Literal["tests"] = "tests"

    def sniff(self, report: Report) -> bool:
        """JUnit is the one XML format, so any XML report is taken to be JUnit."""
        return report.syntax == "xml"

    def parse(self, report: Report) -> TestSummary:
        """Count the test cases, collect the failing ones and the suites' properties."""
        root = _root(report)
        if root.tag not in (_SUITE, _SUITES):
            raise report.fail(
                f"not a JUnit XML report: the root element is <{root.tag}>, "
                "expected <testsuites> or <testsuite>"
            )
        tally = _Tally()
        failed: list[FailedTest] = []
        suites: list[str] = []
        properties: dict[tuple[str, str], None] = {}
        top = [root] if root.tag == _SUITE else list(_suites(root))
        stated = self._stated_duration(report, root, top)
        tally.time_cases = stated is None
        pending = [(suite, "") for suite in reversed(top)]
        while pending:
            suite, parent = pending.pop()
            name = suite.get("name") or parent
            suites.append(name)
            for prop in suite.iterfind("properties/property"):
                key = prop.get("name")
                if key:
                    properties[(key, prop.get("value") or prop.text or "")] = None
            for case_elem in suite.iterfind(_CASE):
                self._case(report, case_elem, name, tally, failed)
            pending.extend((child, name) for child in reversed(list(_suites(suite))))
        return TestSummary(
            format=self.name,
            tests=tally.tests,
            failures=tally.failures,
            errors=tally.errors,
            skipped=tally.skipped,
            duration=round(tally.case_seconds, 6) if stated is None else stated,
            failed=tuple(failed),
            suites=tuple(suites),
            properties=tuple(properties),
        )

    @staticmethod
    def _case(
        report: Report,
        elem: Element,
        suite: str,
        tally: _Tally,
        failed: list[FailedTest],
    ) -> None:
        """Count one test case; a case with several results counts once, worst first."""
        tally.tests += 1
        if tally.time_cases:
            tally.case_seconds += _seconds(report, elem) or 0.0
        if len(elem) == 0:
            return  # no child element: passed (the common case, so no wrapper is built)
        results = _case(elem).result
        worst: Failure | Error | None = next(
            (r for r in results if isinstance(r, Failure)),
            next((r for r in results if isinstance(r, Error)), None),
        )
        if worst is None:
            if any(isinstance(r, Skipped) for r in results):
                tally.skipped += 1
            return
        kind: Literal["failure", "error"] = "failure" if isinstance(worst, Failure) else "error"
        if kind == "failure":
            tally.failures += 1
        else:
            tally.errors += 1
        result_type: Any = worst.type
        failed.append(
            FailedTest(
                suite=suite,
                classname=elem.get("classname") or "",
                name=elem.get("name") or "",
                kind=kind,
                message=_message(worst),
                type=result_type if isinstance(result_type, str) and result_type else None,
            )
        )

    @staticmethod
    def _stated_duration(report: Report, root: Element, top: list[Element]) -> float | None:
        """The run's wall time as stated: the root's ``time``, else its suites' sum, else None."""
        own = _seconds(report, root)
        if own is not None:
            return own
        times = [_seconds(report, suite) for suite in top]
        if top and all(t is not None for t in times):
            return round(sum(t for t in times if t is not None), 6)
        return None


FORMAT = JUnitFormat()
