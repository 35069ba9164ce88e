"""The vendored corpus stays accounted for: every file inside the checkout, each one sourced."""

from __future__ import annotations

import re
from pathlib import Path

from tests.paths import CORPUS, ROOT

SOURCES = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")


def _listed(relative: Path) -> bool:
    """Whether SOURCES.md names the file, or a folder holding it, as its source row."""
    candidates = [relative.as_posix(), relative.name]
    candidates += [parent.as_posix() for parent in relative.parents if parent != Path()]
    return any(candidate in SOURCES for candidate in candidates)


class TestCorpusSources:
    """tests/corpus/SOURCES.md against the files the tests read."""

    def test_every_corpus_file_has_a_source(self) -> None:
        """Each file under tests/corpus (licences aside) is named in SOURCES.md."""
        files = [
            p.relative_to(CORPUS)
            for p in CORPUS.rglob("*")
            if p.is_file() and p.relative_to(CORPUS).parts[0] != "LICENSES"
        ]
        assert len(files) > 300
        missing = [str(p) for p in files if p.name != "SOURCES.md" and not _listed(p)]
        assert missing == []

    def test_every_licence_named_in_sources_exists(self) -> None:
        """Each LICENSES/… file SOURCES.md cites is in the checkout."""
        cited = set(re.findall(r"LICENSES/[\w.\-]+", SOURCES))
        assert cited
        assert sorted(c for c in cited if not (CORPUS / c).is_file()) == []

    def test_no_test_reads_outside_the_checkout(self) -> None:
        """No test module names the shared corpus beside the checkout."""
        offenders = [
            str(path.relative_to(ROOT))
            for path in (ROOT / "tests").rglob("*.py")
            if path != Path(__file__).resolve()
            and re.search(r"\.\./shared|/work/shared|parents\[\d\] / .shared", path.read_text())
        ]
        assert offenders == []
