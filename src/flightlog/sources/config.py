"""``flightlog.toml``: which systems a path belongs to, and how tickets are named (pure).

``[systems]`` maps path globs to systems in CODEOWNERS style: the rules are read in
file order and, for each changed file, the LAST matching rule wins. ``[[tickets]]``
lists ticket patterns, each a regular expression with one capturing group (the key)
and a URL template that links the key out. The defaults are Jira-style keys
(``PAY-123``), GitHub ``#123`` and GitLab ``!123`` references; a pattern named like a
default replaces it (``enabled = false`` drops it), any other is added.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field

from flightlog.errors import InputError
from flightlog.events.refs import find_tickets

__all__ = [
    "DEFAULT_TICKET_PATTERNS",
    "SourceConfig",
    "SystemRule",
    "Ticket",
    "TicketPattern",
    "glob_regex",
    "parse_config",
]

JIRA = "jira"
_SYSTEM_MEMO_SIZE = 4096


@dataclass(frozen=True)
class SystemRule:
    """One ``glob = "system"`` line of ``[systems]``."""

    glob: str
    system: str
    regex: re.Pattern[str]


@dataclass(frozen=True)
class TicketPattern:
    """A named ticket pattern: group 1 is the key; ``url`` may use {key}, {number}, {repo}."""

    name: str
    regex: re.Pattern[str] | None
    url: str | None = None
    scope: str = "any"
    """``github`` / ``gitlab`` limits the pattern to that forge's payloads."""
    sigil: str = ""
    """A character every match holds: a text without it is not searched (built-in patterns)."""


@dataclass(frozen=True)
class Ticket:
    """A ticket found in text: its key (as a ref value) and where it links to."""

    key: str
    pattern: str
    url: str | None


DEFAULT_TICKET_PATTERNS = (
    # Jira-style keys use the ledger's own finder, which skips CVE-…, RFC-… and dates.
    TicketPattern(JIRA, None, None, sigil="-"),
    TicketPattern(
        "github",
        re.compile(r"(?<![\w/#&])(?P<repo>[\w.-]+/[\w.-]+)?#(?P<number>[1-9][0-9]{0,9})\b"),
        "https://github.com/{repo}/issues/{number}",
        "github",
        "#",
    ),
    TicketPattern(
        "gitlab",
        re.compile(r"(?<![\w/!])(?P<repo>(?:[\w.-]+/)+[\w.-]+)?!(?P<number>[1-9][0-9]{0,9})\b"),
        "{project_url}/-/merge_requests/{number}",
        "gitlab",
        "!",
    ),
)


def glob_regex(glob: str) -> re.Pattern[str]:
    """Translate a CODEOWNERS/gitignore glob to a regex over repository paths."""
    pattern = glob.strip()
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    pattern = pattern.strip("/") if pattern != "/" else ""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    # A rule naming a directory covers everything beneath it.
    return re.compile(prefix + "".join(out) + "(?:/.*)?")


@dataclass(frozen=True)
class SourceConfig:
    """The parsed ``flightlog.toml``."""

    systems: tuple[SystemRule, ...] = ()
    tickets: tuple[TicketPattern, ...] = field(default=DEFAULT_TICKET_PATTERNS)
    _system_memo: dict[str, str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Paths already matched: a repository's pushes touch the same files again and again."""

    def system_of(self, path: str) -> str | None:
        """The system of one path: the last matching rule's, or None."""
        if not self.systems:
            return None
        memo = self._system_memo
        if path in memo:
            return memo[path]
        found = None
        for rule in self.systems:
            if rule.regex.fullmatch(path):
                found = rule.system
        if len(memo) >= _SYSTEM_MEMO_SIZE:
            memo.clear()
        memo[path] = found
        return found

    def systems_of(self, paths: Iterable[str]) -> list[str]:
        """The sorted, unique systems the given paths belong to."""
        if not self.systems:
            return []
        return sorted({s for p in paths if isinstance(p, str) and (s := self.system_of(p))})

    def tickets_in(
        self, texts: Iterable[str | None], *, forge: str, repo: str = "", project_url: str = ""
    ) -> list[Ticket]:
        """The tickets named in ``texts``, in order of appearance, once each."""
        found: dict[str, Ticket] = {}
        for text in texts:
            if not isinstance(text, str) or not text:
                continue
            for pattern in self.tickets:
                if pattern.scope not in ("any", forge):
                    continue
                for key, number, project in _matches(pattern, text, repo):
                    if key not in found:
                        url = _link(pattern.url, key, number, project, project_url, repo)
                        found[key] = Ticket(key, pattern.name, url)
        return list(found.values())


def _matches(pattern: TicketPattern, text: str, repo: str) -> list[tuple[str, str, str]]:
    """``(key, number, repo)`` of each match; short forge references get their repo prefixed."""
    if pattern.sigil and pattern.sigil not in text:
        return []
    if pattern.regex is None:
        return [(key, key.rsplit("-", 1)[1], repo) for key in find_tickets(text)]
    found = []
    for match in pattern.regex.finditer(text):
        named = match.groupdict()
        if "number" in named:
            # A forge reference: "#12" in this repository, or "group/project!12".
            project = named.get("repo") or repo
            sigil = "#" if pattern.scope == "github" else "!"
            found.append((f"{project}{sigil}{named['number']}", named["number"], project))
            continue
        key = match.group(1) if match.groups() else match.group(0)
        found.append((key, key, repo))
    return found


def _link(
    template: str | None, key: str, number: str, repo: str, project_url: str, home: str
) -> str | None:
    if not template:
        return None
    if repo != home and project_url.endswith("/" + home):
        # A cross-project reference links to the other project on the same host.
        project_url = project_url[: -len(home)] + repo
    try:
        return template.format(key=key, number=number, repo=repo, project_url=project_url)
    except (KeyError, IndexError, ValueError):
        return None


def _pattern(index: int, raw: object, default: TicketPattern | None) -> TicketPattern:
    where = f"flightlog.toml: tickets[{index}]"
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be a table with name, pattern and url")
    name, regex, url = raw.get("name"), raw.get("pattern"), raw.get("url")
    scope = raw.get("forge", default.scope if default else "any")
    if default is not None and regex is None:
        # Only the URL (or nothing but enabled = false) given: keep the default's pattern.
        return TicketPattern(default.name, default.regex, url or default.url, scope, default.sigil)
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: name must be a non-empty string")
    if url is not None and not isinstance(url, str):
        raise InputError(f"{where}: url must be a string template such as https://t/{{key}}")
    if scope not in ("any", "github", "gitlab"):
        raise InputError(f"{where}: forge must be github, gitlab or any")
    if not isinstance(regex, str) or not regex:
        raise InputError(f"{where}: pattern must be a regular expression")
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise InputError(f"{where}: pattern {regex!r} is not a valid regex: {exc}") from None
    if compiled.groups > 1 and set(compiled.groupindex) != {"repo", "number"}:
        raise InputError(
            f"{where}: pattern must have at most one capturing group (the key), "
            "or the named groups repo and number"
        )
    return TicketPattern(name, compiled, url, scope)


def _systems(raw: object) -> tuple[SystemRule, ...]:
    if not isinstance(raw, dict):
        raise InputError('flightlog.toml: [systems] must be a table of "glob" = "system"')
    rules = []
    for glob, system in raw.items():
        if not isinstance(system, str) or not system.strip():
            raise InputError(f"flightlog.toml: systems.{glob!r} must name a system")
        rules.append(SystemRule(glob, system.strip(), glob_regex(glob)))
    return tuple(rules)


def parse_config(text: str) -> SourceConfig:
    """Parse ``flightlog.toml``; InputError naming the line or key at fault."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"flightlog.toml is not valid TOML: {exc}") from None
    systems = _systems(doc.get("systems", {}))
    raw_tickets = doc.get("tickets", [])
    if not isinstance(raw_tickets, list):
        raise InputError("flightlog.toml: tickets must be an array of tables ([[tickets]])")
    # A pattern named like a default (jira, github, gitlab) replaces it; others are added.
    patterns = {p.name: p for p in DEFAULT_TICKET_PATTERNS}
    for i, raw in enumerate(raw_tickets):
        name = raw.get("name") if isinstance(raw, dict) else None
        pattern = _pattern(i, raw, patterns.get(name) if isinstance(name, str) else None)
        if isinstance(raw, dict) and raw.get("enabled") is False:
            patterns.pop(pattern.name, None)
        else:
            patterns[pattern.name] = pattern
    tickets = list(patterns.values())
    return SourceConfig(systems=systems, tickets=tuple(tickets))
