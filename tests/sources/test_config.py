"""flightlog.toml: CODEOWNERS-style system globs and ticket patterns."""

from __future__ import annotations

import pytest

from flightlog.errors import InputError
from flightlog.sources.config import SourceConfig, glob_regex, parse_config

CONFIG = """
[systems]
"*" = "everything"
"/services/payments/" = "payments"
"services/payments/docs/" = "docs"
"*.md" = "docs"
"infra/**/prod/*.tf" = "prod-infra"

[[tickets]]
name = "jira"
url = "https://acme.atlassian.net/browse/{key}"

[[tickets]]
name = "servicenow"
pattern = "\\\\b(INC[0-9]{7})\\\\b"
url = "https://acme.service-now.com/{key}"
"""


class TestSystems:
    """Path globs map files to systems; the last matching rule wins."""

    @pytest.mark.parametrize(
        ("path", "system"),
        [
            ("services/payments/api.py", "payments"),
            ("services/payments/docs/guide.txt", "docs"),
            ("services/payments/README.md", "docs"),
            ("lib/other/payments/x.py", "everything"),
            ("infra/eu/west/prod/main.tf", "prod-infra"),
            ("infra/prod/main.tf", "prod-infra"),
            ("tools/build.sh", "everything"),
        ],
    )
    def test_last_match_wins(self, path: str, system: str) -> None:
        """Each path gets the system of the last rule matching it."""
        assert parse_config(CONFIG).system_of(path) == system

    def test_systems_of_many_files_are_sorted_and_unique(self) -> None:
        """A commit touching several systems names each once."""
        config = parse_config(CONFIG)
        files = ["services/payments/a.py", "README.md", "docs/x.md"]
        assert config.systems_of(files) == ["docs", "payments"]

    def test_no_rules_no_systems(self) -> None:
        """Without [systems] nothing is named."""
        assert SourceConfig().systems_of(["a.py"]) == []

    def test_repeated_paths_keep_their_system(self) -> None:
        """A path asked about again (the next commit) gets the same system."""
        config = parse_config(CONFIG)
        first = [config.system_of(p) for p in ("README.md", "tools/x.sh", "services/payments/a")]
        again = [config.system_of(p) for p in ("README.md", "tools/x.sh", "services/payments/a")]
        assert first == again == ["docs", "everything", "payments"]

    def test_configs_with_other_rules_answer_apart(self) -> None:
        """Two configs never share answers, and equal configs stay equal once used."""
        one = parse_config('[systems]\n"*.md" = "docs"\n')
        other = parse_config('[systems]\n"*.md" = "handbook"\n')
        assert (one.system_of("a.md"), other.system_of("a.md")) == ("docs", "handbook")
        assert one == parse_config('[systems]\n"*.md" = "docs"\n')

    def test_unanchored_glob_matches_at_any_depth(self) -> None:
        """A glob without a slash matches a file name anywhere (gitignore rule)."""
        assert glob_regex("*.md").fullmatch("a/b/c.md")
        assert not glob_regex("/*.md").fullmatch("a/c.md")


class TestTickets:
    """Ticket patterns with URL templates."""

    def test_defaults_find_jira_and_forge_references(self) -> None:
        """Jira keys anywhere; #12 on GitHub; group/project!3 on GitLab."""
        config = SourceConfig()
        found = config.tickets_in(["PAY-12 fixes #4 and CVE-2024-1234"], forge="github", repo="o/r")
        assert [(t.key, t.url) for t in found] == [
            ("PAY-12", None),
            ("o/r#4", "https://github.com/o/r/issues/4"),
        ]
        gl = config.tickets_in(
            ["See merge request grp/app!3"],
            forge="gitlab",
            repo="me/x",
            project_url="https://gl.example/me/x",
        )
        assert [(t.key, t.url) for t in gl] == [
            ("grp/app!3", "https://gl.example/grp/app/-/merge_requests/3")
        ]

    def test_github_pattern_ignores_gitlab_deliveries(self) -> None:
        """A #12 in a GitLab message is not a GitHub issue."""
        assert SourceConfig().tickets_in(["see #12"], forge="gitlab", repo="a/b") == []

    def test_configured_url_and_extra_pattern(self) -> None:
        """A default named again gets a URL; a new pattern is added."""
        found = parse_config(CONFIG).tickets_in(["PAY-7 INC0012345"], forge="github")
        assert [(t.key, t.pattern, t.url) for t in found] == [
            ("PAY-7", "jira", "https://acme.atlassian.net/browse/PAY-7"),
            ("INC0012345", "servicenow", "https://acme.service-now.com/INC0012345"),
        ]

    @pytest.mark.parametrize(
        ("text", "keys"),
        [
            ("no ticket here", []),
            ("PAY-12 without a hash", ["PAY-12"]),
            ("fixes #4", ["o/r#4"]),
            ("grp/app!3 is GitLab's", []),
        ],
    )
    def test_texts_without_a_pattern_sigil(self, text: str, keys: list[str]) -> None:
        """A text lacking a pattern's "-", "#" or "!" holds none of its tickets."""
        found = SourceConfig().tickets_in([text], forge="github", repo="o/r")
        assert [t.key for t in found] == keys

    def test_default_renamed_url_keeps_its_search(self) -> None:
        """A default given only a new URL still finds its references."""
        config = parse_config('[[tickets]]\nname = "github"\nurl = "https://t/{number}"\n')
        found = config.tickets_in(["fixes #4"], forge="github", repo="o/r")
        assert [(t.key, t.url) for t in found] == [("o/r#4", "https://t/4")]

    def test_default_with_own_pattern_searches_every_text(self) -> None:
        """A default replaced by a pattern of one's own is not limited by the default's sigil."""
        config = parse_config('[[tickets]]\nname = "github"\npattern = "\\\\b(GH[0-9]+)\\\\b"\n')
        found = config.tickets_in(["see GH12"], forge="github", repo="o/r")
        assert [t.key for t in found] == ["GH12"]

    def test_default_can_be_disabled(self) -> None:
        """`enabled = false` drops a default pattern."""
        config = parse_config('[[tickets]]\nname = "jira"\nenabled = false\n')
        assert config.tickets_in(["PAY-1"], forge="github") == []


class TestErrors:
    """A bad flightlog.toml names what is wrong."""

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("[systems", "not valid TOML"),
            ('systems = "x"', r"\[systems\] must be a table"),
            ('[systems]\n"*.py" = 3', "must name a system"),
            ("tickets = 3", "array of tables"),
            ('[[tickets]]\nname = "x"', "pattern must be a regular expression"),
            ('[[tickets]]\nname = "x"\npattern = "("', "not a valid regex"),
            ('[[tickets]]\nname = "x"\npattern = "(a)(b)"', "at most one capturing group"),
            ('[[tickets]]\npattern = "a"', "name must be"),
            ('[[tickets]]\nname = "x"\npattern = "a"\nforge = "svn"', "forge must be"),
        ],
    )
    def test_message(self, text: str, message: str) -> None:
        """Each malformed file raises InputError with a precise message."""
        with pytest.raises(InputError, match=message):
            parse_config(text)
