"""Where the tests' data lives: the vendored third-party corpus and our own fixtures.

Everything is inside the checkout (``tests/corpus`` holds byte-for-byte copies of
third-party samples, see its ``SOURCES.md``). A missing file is an error, never a skip.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CORPUS = TESTS / "corpus"
FIXTURES = TESTS / "fixtures"


def corpus_files(folder: str, pattern: str = "*") -> list[Path]:
    """The corpus files under ``folder`` matching ``pattern`` (recursive); never empty."""
    files = sorted(p for p in (CORPUS / folder).glob(pattern) if p.is_file())
    if not files:
        raise FileNotFoundError(f"no corpus files {folder}/{pattern} under {CORPUS}")
    return files


def corpus_file(relative: str) -> Path:
    """One corpus file; FileNotFoundError when it is missing."""
    path = CORPUS / relative
    if not path.is_file():
        raise FileNotFoundError(f"corpus file missing: {path}")
    return path
