"""The README documents every command and every endpoint, and its set-up commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.main import get_command

from flightlog.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def command_paths(group: typer.Typer) -> list[str]:
    """Every leaf command of the CLI as the words a user types after `flightlog`."""
    root = get_command(group)
    paths: list[str] = []

    def walk(cmd: object, prefix: list[str]) -> None:
        sub = getattr(cmd, "commands", None)
        if not sub:
            paths.append(" ".join(prefix))
            return
        for name, child in sub.items():
            walk(child, [*prefix, name])

    walk(root, [])
    return sorted(paths)


class TestReadme:
    def test_every_command_is_documented(self) -> None:
        """Each `flightlog …` command appears in the README's command table."""
        paths = command_paths(app)
        assert len(paths) >= 14
        missing = [p for p in paths if f"flightlog {p}" not in README]
        assert missing == []

    def test_every_endpoint_is_documented(self, tmp_path: Path) -> None:
        """Each path of the generated OpenAPI appears in the README's endpoint table."""
        from flightlog.config import Settings
        from flightlog.server.app import create_app

        settings = Settings(database_url=f"sqlite:///{tmp_path / 'f.db'}", home=tmp_path / "home")
        spec = create_app(settings).openapi()
        paths = sorted(spec["paths"])
        assert "/api/v1/events" in paths
        missing = [p for p in paths if p not in README]
        assert missing == []

    def test_setup_commands_are_make_targets(self) -> None:
        """`make run` and `make test`, which the README gives, are targets of the Makefile."""
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        for target in ("run", "test", "install", "check", "bench"):
            assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
            assert f"make {target}" in README

    def test_every_environment_variable_is_documented(self) -> None:
        """Each `FLIGHTLOG_*` variable the code reads appears in the README."""
        names: set[str] = set()
        for path in (ROOT / "src" / "flightlog").rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            names.update(re.findall(r"[\"'](FLIGHTLOG_[A-Z_]+)[\"']", text))
        assert "FLIGHTLOG_DATABASE_URL" in names
        assert sorted(n for n in names if n not in README) == []

    def test_ci_runs_the_readme_test_command(self) -> None:
        """CI calls `make test`, the README's test command."""
        assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
