"""The lineage tables: written inside every append, rebuilt from the ledger, read by lineage/.

Rows come from the pure :func:`flightlog.lineage.projection.project_event`; this module
holds only their SQL. Search uses SQLite FTS5 or a PostgreSQL ``tsvector`` column.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from flightlog.events.refs import extract_refs
from flightlog.lineage.port import FactsRead
from flightlog.lineage.projection import COLUMNS, TABLES, project_event, search_text
from flightlog.store import reads
from flightlog.store.append import Appended, lock_log
from flightlog.store.engine import write_transaction
from flightlog.store.schema import entries

__all__ = [
    "LINEAGE_TABLES",
    "LineageStore",
    "lineage_metadata",
    "project_lineage",
    "rebuild_lineage",
    "write_rows",
]

ERASED_TYPE = "dev.cdeventsx.flightlog-payload.erased."
REBUILD_CHUNK = 2000
RANKED = 1000  # search ranks at most this many matches, the newest
EACH = 50  # reads of one shape asked in one statement (LineageStore.facts_each)
_ARRAY_FROM = 16  # values of a list from which PostgreSQL gets them as one array
# PostgreSQL search reads the newest entries in index order first (a bounded cost whatever
# the word), goes on that way while the word looks common, and asks the GIN index for the
# rest: see _newest_ranked.
_ORDERED_FIRST = 8192  # entries read in index order first
_ORDERED_MORE = 262_144  # most entries read on in index order for a common word
_MATCH_COST = 15  # entries read in index order for the cost of one match read from GIN
# Search words: letters, digits and the joiners of ids (CVE-2026-1, PAY-12, a.b_c).
_WORD = re.compile(r"[\w][\w.-]*")

lineage_metadata = sa.MetaData()


def _table(name: str, *columns: sa.Column[Any]) -> sa.Table:
    return sa.Table(
        name,
        lineage_metadata,
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("time_utc", sa.Text, nullable=False),
        *columns,
    )


def _text(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.Text, nullable=nullable)


def _count(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer, nullable=False)


def _links() -> list[sa.Column[Any]]:
    return [_text("artifact"), _text("commit"), _text("actor"), _text("pipeline_run")]


deployments = _table(
    "deployments",
    _text("deployment", nullable=False),
    _text("service", nullable=False),
    _text("environment", nullable=False),
    _text("artifact"),
    _text("version"),
    _text("status", nullable=False),
    _text("reason"),
    _text("actor"),
    _text("commit"),
    _text("pipeline_run"),
)
sa.Index(
    "ix_deployments_where", deployments.c.environment, deployments.c.service, deployments.c.idx
)
builds = _table("builds", *_links(), _text("run_url"), _text("version"))
sa.Index("ix_builds_artifact", builds.c.artifact)
artifacts = _table("artifacts", *_links())
sa.Index("ix_artifacts_artifact", artifacts.c.artifact)
changes = _table(
    "changes",
    _text("kind", nullable=False),
    _text("verb", nullable=False),
    _text("key", nullable=False),
    _text("repo"),
    _text("author"),
    _text("title"),
    _text("url"),
    _text("reviewer"),
    _text("verdict"),
)
sa.Index("ix_changes_key", changes.c.key)
test_runs = _table(
    "test_runs",
    *_links(),
    _text("environment"),
    _text("suite"),
    _text("outcome", nullable=False),
    _count("tests"),
    _count("failures"),
    _count("errors"),
    _count("skipped"),
)
sa.Index("ix_test_runs_artifact", test_runs.c.artifact)
sa.Index("ix_test_runs_commit", test_runs.c.commit)
scans = _table(
    "scans",
    *_links(),
    _text("tool", nullable=False),
    _count("critical"),
    _count("high"),
    _count("medium"),
    _count("low"),
    _text("worst"),
)
sa.Index("ix_scans_artifact", scans.c.artifact)
approvals = _table(
    "approvals",
    *_links(),
    _text("approver", nullable=False),
    sa.Column("granted", sa.Boolean, nullable=False),
    _text("change"),
    _text("environment"),
)
sa.Index("ix_approvals_artifact", approvals.c.artifact)
tickets = sa.Table(
    "tickets",
    lineage_metadata,
    sa.Column("ticket", sa.Text, primary_key=True),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("time_utc", sa.Text, nullable=False),
)
sa.Index("ix_tickets_idx", tickets.c.idx)
incidents = _table(
    "incidents",
    _text("incident", nullable=False),
    _text("service"),
    _text("environment"),
    _text("status", nullable=False),
    _text("title"),
    _text("severity"),
)

LINEAGE_TABLES: dict[str, sa.Table] = {
    "deployments": deployments,
    "artifacts": artifacts,
    "builds": builds,
    "changes": changes,
    "test_runs": test_runs,
    "scans": scans,
    "approvals": approvals,
    "tickets": tickets,
    "incidents": incidents,
}
assert tuple(LINEAGE_TABLES) == TABLES

_COLUMNS = {name: tuple(c.name for c in t.columns) for name, t in LINEAGE_TABLES.items()}
# The projection builds its rows as tuples in these column orders.
assert _COLUMNS == COLUMNS

# Indexes added after the tables were first created: migration 0005 adds them to every
# store, old or new, so they stay out of the table definitions 0004 creates.
LATER_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # The pushes to one repository between two deployments (changes_between).
    ("ix_changes_repo", "changes", ("repo", "kind", "idx")),
    # The start of a deployment, by its id (trace and suspects show how long it took).
    ("ix_deployments_id", "deployments", ("deployment", "idx")),
    # The deployments in a time window (suspects).
    ("ix_deployments_time", "deployments", ("time_utc",)),
    # The incidents open around a moment (suspects).
    ("ix_incidents_time", "incidents", ("time_utc",)),
)

# Search lives outside SQLAlchemy's metadata: an FTS5 virtual table on SQLite, a table
# with a generated tsvector column and a GIN index on PostgreSQL (migration 0004).
SEARCH_TABLE = "search_index"


def create_search_sql(dialect: str) -> list[str]:
    """DDL of the search index for ``dialect`` (``sqlite`` or ``postgresql``)."""
    if dialect == "sqlite":
        return [f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(body, tokenize='unicode61')"]
    # The lineage is filled right after this, by the appends' own code, which writes the
    # ``hyphenated`` column; migration 0007 adds it to the tables made without it.
    return [
        f"CREATE TABLE {SEARCH_TABLE} (idx BIGINT PRIMARY KEY, body TEXT NOT NULL, "
        "hyphenated TEXT, "
        "tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED)",
        f"CREATE INDEX ix_{SEARCH_TABLE}_tsv ON {SEARCH_TABLE} USING gin (tsv)",
    ]


# PostgreSQL's parser reads "PAY-101" as two lexemes, 'pay' and '-101', and a query for it
# as the phrase 'pay' <-> '-101', which the GIN index cannot decide without re-reading
# every row holding both words. The body with its hyphens removed adds 'pay101', one
# lexeme, and a query word with hyphens asks for that form (migration 0006).
JOINED_TSV = "to_tsvector('simple', body || ' ' || translate(body, '-', ''))"
PLAIN_TSV = "to_tsvector('simple', body)"
# Only the hyphenated words need their joined form, and parsing the whole body twice was
# most of the cost of writing a search row: the appends send those words, joined, in a
# column of their own (migration 0007). A row written without it (NULL) is indexed as
# before. Either way a search matches the same rows.
HYPHENATED_TSV = (
    "to_tsvector('simple', body || ' ' || coalesce(hyphenated, translate(body, '-', '')))"
)
# What `hyphenated_words` computes, in SQL (migration 0007 fills the rows already there).
HYPHENATED_SQL = (
    "array_to_string(ARRAY(SELECT translate(w, '-', '') "
    "FROM regexp_split_to_table(body, '[ \\t\\n\\r\\f\\v]+') WITH ORDINALITY AS t(w, n) "
    "WHERE strpos(w, '-') > 0 ORDER BY n), ' ')"
)
_BLANKS = re.compile(r"[ \t\n\r\f\v]+")


def hyphenated_words(body: str) -> str:
    """The words of ``body`` that hold a hyphen, hyphens removed, space separated."""
    if "-" not in body:
        return ""
    return " ".join(w.replace("-", "") for w in _BLANKS.split(body) if "-" in w)


def search_tsv_sql(expression: str) -> list[str]:
    """DDL replacing the PostgreSQL search column with one generated by ``expression``."""
    return [
        f"DROP INDEX IF EXISTS ix_{SEARCH_TABLE}_tsv",
        f"ALTER TABLE {SEARCH_TABLE} DROP COLUMN tsv",
        f"ALTER TABLE {SEARCH_TABLE} ADD COLUMN tsv tsvector "
        f"GENERATED ALWAYS AS ({expression}) STORED",
        f"CREATE INDEX ix_{SEARCH_TABLE}_tsv ON {SEARCH_TABLE} USING gin (tsv)",
    ]


def tsquery_of(words: Sequence[str]) -> str:
    """The PostgreSQL ``to_tsquery`` text asking for every word as a prefix (hyphens joined)."""
    return " & ".join(w.replace("'", "").replace("-", "") + ":*" for w in words)


_INSERTS: dict[tuple[str, str], str] = {}


def _insert_sql(dialect: sa.Dialect, table: str, columns: Sequence[str]) -> str:
    """The statement inserting ``columns`` of ``table``: a COPY on PostgreSQL, else an INSERT."""
    key = (dialect.name, table)
    sql = _INSERTS.get(key)
    if sql is None:
        quote = dialect.identifier_preparer.quote
        listed = ", ".join(quote(c) for c in columns)
        # Names come from the table definitions, values are bound: nothing user-given is spliced.
        if dialect.name == "postgresql":
            sql = f"COPY {table} ({listed}) FROM STDIN"
        else:
            marker = _marker(dialect)
            sql = f"INSERT INTO {table} ({listed}) VALUES ({', '.join(marker for _ in columns)})"  # noqa: S608
        _INSERTS[key] = sql
    return sql


def _insert(
    conn: sa.Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert tuples in column order: one COPY on PostgreSQL, one executemany on SQLite."""
    sql = _insert_sql(conn.dialect, table, columns)
    if conn.dialect.name == "postgresql":
        # In the append's own transaction: COPY costs a fraction of a row-by-row executemany.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    conn.exec_driver_sql(sql, rows)


def _delete_index(conn: sa.Connection, index: int) -> None:
    """Drop the rows of an entry whose payload was erased: they were derived from it."""
    for table in LINEAGE_TABLES.values():
        conn.execute(table.delete().where(table.c.idx == index))
    column = "rowid" if conn.dialect.name == "sqlite" else "idx"
    conn.execute(sa.text(f"DELETE FROM {SEARCH_TABLE} WHERE {column} = :i"), {"i": index})  # noqa: S608


# One projected entry: (index, time_utc, event type, event, refs).
Item = tuple[int, str, str, Mapping[str, Any], Sequence[tuple[str, str]]]
# The rows of several entries: per table, tuples in column order; search documents.
Rows = tuple[dict[str, list[tuple[Any, ...]]], list[tuple[int, str]]]


def write_rows(conn: sa.Connection, rows: Rows) -> None:
    """Insert projected rows: one COPY (PostgreSQL) or executemany (SQLite) per table."""
    tables, docs = rows
    for table, values in tables.items():
        if values:
            _insert(conn, table, COLUMNS[table], values)
    if not docs:
        return
    if conn.dialect.name == "sqlite":
        _insert(conn, SEARCH_TABLE, ("rowid", "body"), docs)
    else:
        searched = [(index, body, hyphenated_words(body)) for index, body in docs]
        _insert(conn, SEARCH_TABLE, ("idx", "body", "hyphenated"), searched)


def _write(conn: sa.Connection, items: Iterable[Item]) -> None:
    """Project entries into the lineage tables, dropping the rows of erased entries first."""
    tables: dict[str, list[tuple[Any, ...]]] = {table: [] for table in TABLES}
    docs: list[tuple[int, str]] = []
    for index, time_utc, event_type, event, event_refs in items:
        if event_type.startswith(ERASED_TYPE):
            erased = event.get("subject", {}).get("content", {}).get("index")
            if isinstance(erased, int):
                _delete_index(conn, erased)
        for table, values in project_event(event, event_refs, index=index, time_utc=time_utc):
            tables[table].append(values)
        docs.append((index, search_text(event, event_refs)))
    write_rows(conn, (tables, docs))


def project_lineage(conn: sa.Connection, appended: Sequence[Appended]) -> None:
    """The lineage projection: registered on every store, run inside the append."""
    _write(
        conn,
        ((a.index, a.event.time_utc, a.event.type, a.event.event, a.event.refs) for a in appended),
    )


def _clear(conn: sa.Connection) -> None:
    for table in reversed(LINEAGE_TABLES.values()):
        conn.execute(table.delete())
    conn.execute(sa.text(f"DELETE FROM {SEARCH_TABLE}"))  # noqa: S608 - fixed name


def fill_lineage(conn: sa.Connection, progress: Callable[[int, int], None] | None = None) -> int:
    """Empty the lineage tables and project every entry again, on ``conn``; entries read."""
    total = int(conn.execute(sa.select(sa.func.count()).select_from(entries)).scalar_one())
    _clear(conn)
    done, after = 0, -1
    while True:
        chunk = conn.execute(
            sa.select(entries.c.idx, entries.c.time_utc, entries.c.type, entries.c.payload)
            .where(entries.c.idx > after)
            .order_by(entries.c.idx)
            .limit(REBUILD_CHUNK)
        ).all()
        if not chunk:
            break
        items: list[Item] = []
        for row in chunk:
            # An erased payload leaves nothing to project, as its erasure removed its rows.
            if row.payload is not None:
                event = json.loads(bytes(row.payload))
                items.append((int(row.idx), row.time_utc, row.type, event, extract_refs(event)))
        _write(conn, items)
        after = int(chunk[-1].idx)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    return done


def rebuild_lineage(engine: sa.Engine, progress: Callable[[int, int], None] | None = None) -> int:
    """Recreate the lineage tables from the ledger alone, in one transaction under the lock."""
    with write_transaction(engine) as conn:
        lock_log(conn)
        return fill_lineage(conn, progress)


_BOOLEANS = {
    name: tuple(c.name for c in t.columns if isinstance(c.type, sa.Boolean))
    for name, t in LINEAGE_TABLES.items()
}
_SELECTS: dict[tuple[Any, ...], str] = {}
_NO_LIMIT = 2**62


def _marker(dialect: sa.Dialect) -> str:
    return "?" if dialect.paramstyle == "qmark" else "%s"


def _as_array(dialect: sa.Dialect, count: int) -> bool:
    """Whether ``count`` values are bound as one array (PostgreSQL, from ``_ARRAY_FROM``).

    A long list as one array keeps the statement's text the same whatever its length:
    psycopg parses it once (it does not cache a statement of more than 50 parameters) and
    the server plans one array; a short list costs less as plain parameters.
    """
    return dialect.name == "postgresql" and count >= _ARRAY_FROM


def _one_of(dialect: sa.Dialect, column: str, count: int) -> str:
    """SQL: ``column`` equals one of ``count`` values, bound by :func:`_one_of_params`."""
    if _as_array(dialect, count):
        return f"{column} = ANY({_marker(dialect)})"
    return f"{column} IN ({', '.join(_marker(dialect) for _ in range(count))})"


def _one_of_params(dialect: sa.Dialect, values: Sequence[Any]) -> list[Any]:
    """The parameters of :func:`_one_of` for ``values``."""
    return [list(values)] if _as_array(dialect, len(values)) else list(values)


def _select_sql(dialect: sa.Dialect, table: str, shape: tuple[Any, ...]) -> str:
    """The SELECT of one shape of read: ``(where, after?, upto?, since?, until?, newest)``
    with ``where`` as ``(column, is None)`` pairs, or ``(column, n)`` for ``column IN``
    n values; the last parameter is the limit."""
    quote = dialect.identifier_preparer.quote
    marker = _marker(dialect)
    conds: list[str] = []
    if isinstance(shape[1], int) and not isinstance(shape[1], bool):
        conds.append(_one_of(dialect, quote(shape[0]), shape[1]))
        order = ""
    else:
        where, after, upto, since, until, newest = shape
        # SQLite plans without statistics: a unary + keeps a term off the indexes, so a
        # window (since and until) is found by time, anything else by its equalities.
        eq, at = ("+", "") if since and until else ("", "+")
        if dialect.name != "sqlite":
            eq = at = ""
        conds += [
            f"{eq}{quote(c)} IS NULL" if none else f"{eq}{quote(c)} = {marker}" for c, none in where
        ]
        conds += [f"idx > {marker}"] * after + [f"idx <= {marker}"] * upto
        conds += [f"{at}time_utc >= {marker}"] * since + [f"{at}time_utc <= {marker}"] * until
        order = " ORDER BY idx DESC" if newest else " ORDER BY idx"
    columns = ", ".join(quote(c) for c in _COLUMNS[table])
    where_sql = f" WHERE {' AND '.join(conds)}" if conds else ""
    # Names come from the table definitions, values are bound: nothing user-given is spliced.
    return f"SELECT {columns} FROM {table}{where_sql}{order} LIMIT {marker}"  # noqa: S608


def _each_sql(dialect: sa.Dialect, table: str, shape: tuple[Any, ...], count: int) -> str:
    """``count`` reads of one shape in one statement, each row led by its read's number."""
    one = _select_sql(dialect, table, shape)
    # Only numbers and the SQL of _select_sql are spliced; values are bound.
    parts = (f"SELECT {n}, s{n}.* FROM ({one}) s{n}" for n in range(count))  # noqa: S608
    return " UNION ALL ".join(parts)


def _as_facts(table: str, found: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows of ``table`` (in column order) as dicts, booleans as booleans."""
    columns = _COLUMNS[table]
    rows = [dict(zip(columns, row, strict=True)) for row in found]
    for name in _BOOLEANS[table]:
        for row in rows:
            if row[name] is not None:
                row[name] = bool(row[name])
    return rows


def _select(
    conn: sa.Connection, table: str, shape: tuple[Any, ...], params: list[Any]
) -> list[dict[str, Any]]:
    """Rows of one read as dicts, its SQL built once per dialect and shape."""
    key = (conn.dialect.name, table, shape)
    sql = _SELECTS.get(key)
    if sql is None:
        sql = _SELECTS[key] = _select_sql(conn.dialect, table, shape)
    return _as_facts(table, conn.exec_driver_sql(sql, tuple(params)).fetchall())


def _shape_and_params(table: str, read: FactsRead) -> tuple[tuple[Any, ...], list[Any]]:
    """The shape of one read (see :func:`_select_sql`) and its parameters, limit last."""
    for column in read.where:
        LINEAGE_TABLES[table].c[column]  # an unknown name fails here, not in SQL
    bounds = (read.after, read.upto, read.since_utc, read.until_utc)
    shape = (
        tuple((c, v is None) for c, v in read.where.items()),
        *(b is not None for b in bounds),
        read.newest_first,
    )
    params: list[Any] = [v for v in read.where.values() if v is not None]
    params += [b for b in bounds if b is not None]
    return shape, [*params, read.limit]


def _ranked_rows(
    conn: sa.Connection, stmt: sa.TextClause, **params: Any
) -> list[tuple[int, float]]:
    return [(int(i), float(r)) for i, r in conn.execute(stmt, params)]


# The newest matches among the entries in (low, high], read through the primary key in
# index order: OFFSET 0 keeps the word's condition out of the subquery, so PostgreSQL
# cannot trade the ordered range read for the GIN index and its estimate of the word.
_IN_ORDER = sa.text(
    "SELECT idx, ts_rank(tsv, q) FROM (SELECT idx, tsv FROM "  # noqa: S608 - fixed name
    f"{SEARCH_TABLE} WHERE idx > :low AND idx <= :high ORDER BY idx DESC OFFSET 0) s, "
    "to_tsquery('simple', :q) q WHERE tsv @@ q ORDER BY idx DESC LIMIT :m"
)
# The newest matches at or below ``high``, from the GIN index.
_FROM_INDEX = sa.text(
    f"SELECT idx, ts_rank(tsv, to_tsquery('simple', :q)) FROM {SEARCH_TABLE} "  # noqa: S608
    "WHERE tsv @@ to_tsquery('simple', :q) AND idx <= :high ORDER BY idx DESC LIMIT :m"
)


def _newest_ranked(conn: sa.Connection, query: str) -> list[tuple[int, float]]:
    """The newest ``RANKED`` PostgreSQL matches of ``query`` with their ``ts_rank``.

    The GIN index reads every match of a word from the table before any range or order
    applies, a table page each (~15 µs when not cached; a commit title's words can be in
    50,000 entries), while reading entries in index order costs ~1 µs each whatever the
    word. So the newest ``_ORDERED_FIRST`` entries are read in order. At the density of
    matches seen there, reading on in order (up to twice the entries expected to hold the
    rest, ``_ORDERED_MORE`` at most) is chosen when it costs less than the index reading
    every older match (``_MATCH_COST`` entries each); the GIN index finds whatever is still
    missing, at once for a word that is rare among the newest entries.
    """
    top = conn.execute(sa.text(f"SELECT max(idx) FROM {SEARCH_TABLE}")).scalar()  # noqa: S608
    high = int(top or 0)
    low = high - _ORDERED_FIRST
    found = _ranked_rows(conn, _IN_ORDER, q=query, low=low, high=high, m=RANKED)
    if len(found) < RANKED and low > 0 and found:
        # At the density seen so far: the entries holding the matches still wanted, and
        # the older matches the index would read.
        needed = (RANKED - len(found)) * _ORDERED_FIRST / len(found)
        older = len(found) * low / _ORDERED_FIRST
        if needed <= min(_ORDERED_MORE, _MATCH_COST * older):
            high, low = low, low - min(_ORDERED_MORE, int(2 * needed) + 1)
            found += _ranked_rows(
                conn, _IN_ORDER, q=query, low=low, high=high, m=RANKED - len(found)
            )
    if len(found) < RANKED and low > 0:
        found += _ranked_rows(conn, _FROM_INDEX, q=query, high=low, m=RANKED - len(found))
    return found


class LineageStore:
    """The :class:`flightlog.lineage.port.LineageReader` of a store: lineage tables and refs.

    Used as a context manager it reads every question's rows on one connection (one
    snapshot, no pool checkout per read); otherwise each read takes its own.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._held: sa.Connection | None = None

    def __enter__(self) -> LineageStore:
        self._held = self.engine.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sa.Connection]:
        if self._held is not None:
            yield self._held
        else:
            with self.engine.connect() as conn:
                yield conn

    def facts(
        self,
        table: str,
        where: Mapping[str, str | None],
        *,
        after: int | None = None,
        upto: int | None = None,
        since_utc: str | None = None,
        until_utc: str | None = None,
        newest_first: bool = False,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` whose columns equal ``where`` (None: IS NULL), by ledger index."""
        read = FactsRead(where, after, upto, since_utc, until_utc, newest_first, limit)
        shape, params = _shape_and_params(table, read)
        with self._connection() as conn:
            return _select(conn, table, shape, params)

    def facts_each(self, table: str, reads: Sequence[FactsRead]) -> list[list[dict[str, Any]]]:
        """:meth:`facts` of each of ``reads``: one statement per shape of read (``EACH``
        reads at most), each read its own subquery with its own order and limit."""
        out: list[list[dict[str, Any]]] = [[] for _ in reads]
        shaped: dict[tuple[Any, ...], list[tuple[int, list[Any]]]] = {}
        for number, read in enumerate(reads):
            shape, params = _shape_and_params(table, read)
            shaped.setdefault(shape, []).append((number, params))
        with self._connection() as conn:
            for shape, members in shaped.items():
                for start in range(0, len(members), EACH):
                    chunk = members[start : start + EACH]
                    key = (conn.dialect.name, table, shape, len(chunk))
                    sql = _SELECTS.get(key)
                    if sql is None:
                        sql = _SELECTS[key] = _each_sql(conn.dialect, table, shape, len(chunk))
                    params = [p for _, read_params in chunk for p in read_params]
                    found = conn.exec_driver_sql(sql, tuple(params)).fetchall()
                    for row, fact in zip(
                        found, _as_facts(table, [r[1:] for r in found]), strict=True
                    ):
                        out[chunk[int(row[0])][0]].append(fact)
        for read, rows in zip(reads, out, strict=True):
            # A union keeps no order of its own: each read's rows in the order it asked.
            rows.sort(key=lambda r: int(r["idx"]), reverse=read.newest_first)
        return out

    def facts_in(
        self, table: str, column: str, values: Sequence[str], *, limit: int
    ) -> list[dict[str, Any]] | None:
        """Every row of ``table`` whose ``column`` is one of ``values``, by ledger index.

        None when there are more than ``limit`` such rows: the caller reads them one
        value at a time instead.
        """
        LINEAGE_TABLES[table].c[column]  # an unknown name fails here, not in SQL
        out: list[dict[str, Any]] = []
        with self._connection() as conn:
            for start in range(0, len(values), reads.IN_CHUNK):
                chunk = list(values[start : start + reads.IN_CHUNK])
                shape = (column, len(chunk))
                params = _one_of_params(conn.dialect, chunk)
                out.extend(_select(conn, table, shape, [*params, limit + 1 - len(out)]))
                if len(out) > limit:
                    return None
        return sorted(out, key=lambda r: int(r["idx"]))

    def facts_at(self, table: str, indices: Sequence[int]) -> list[dict[str, Any]]:
        """Rows of ``table`` stated by the entries at ``indices``, by ledger index."""
        out: list[dict[str, Any]] = []
        with self._connection() as conn:
            for start in range(0, len(indices), reads.IN_CHUNK):
                chunk = list(indices[start : start + reads.IN_CHUNK])
                params = _one_of_params(conn.dialect, chunk)
                out.extend(_select(conn, table, ("idx", len(chunk)), [*params, _NO_LIMIT]))
        return sorted(out, key=lambda r: int(r["idx"]))

    def refs_of(
        self, indices: Sequence[int], kinds: Sequence[str] | None = None
    ) -> dict[int, list[tuple[str, str]]]:
        """The refs of several entries (only those of ``kinds`` when given)."""
        out: dict[int, list[tuple[str, str]]] = {i: [] for i in indices}
        with self._connection() as conn:
            dialect = conn.dialect
            # ``kind || ''``: found through the entries' index, never by scanning a kind's refs.
            only = " AND " + _one_of(dialect, "kind || ''", len(kinds)) if kinds else ""
            for start in range(0, len(indices), reads.IN_CHUNK):
                chunk = indices[start : start + reads.IN_CHUNK]
                sql = (
                    "SELECT idx, kind, value FROM refs "  # noqa: S608 - only markers spliced
                    f"WHERE {_one_of(dialect, 'idx', len(chunk))}{only} "
                    "ORDER BY idx, kind, value"
                )
                params = _one_of_params(dialect, chunk)
                if kinds:
                    params += _one_of_params(dialect, kinds)
                for idx, kind, value in conn.exec_driver_sql(sql, tuple(params)).fetchall():
                    out[int(idx)].append((kind, value))
        return out

    def indices_with_any(
        self, kind: str, values: Sequence[str], *, limit: int
    ) -> list[tuple[str, int]] | None:
        """``(value, index)`` of the entries carrying ``(kind, value)`` for any of ``values``,
        by value then ledger order; None beyond ``limit`` of them."""
        out: list[tuple[str, int]] = []
        with self._connection() as conn:
            m = _marker(conn.dialect)
            for start in range(0, len(values), reads.IN_CHUNK):
                chunk = values[start : start + reads.IN_CHUNK]
                sql = (
                    "SELECT value, idx FROM refs "  # noqa: S608 - only markers spliced
                    f"WHERE kind = {m} AND {_one_of(conn.dialect, 'value', len(chunk))} "
                    f"LIMIT {m}"
                )
                params = (kind, *_one_of_params(conn.dialect, chunk), limit + 1 - len(out))
                rows = conn.exec_driver_sql(sql, params).fetchall()
                out.extend((str(v), int(i)) for v, i in rows)
                if len(out) > limit:
                    return None
        return sorted(out)

    def indices_with(self, kind: str, value: str, *, limit: int = 200) -> list[int]:
        """Entries carrying the ref ``(kind, value)``, in ledger order."""
        with self._connection() as conn:
            m = _marker(conn.dialect)
            sql = f"SELECT idx FROM refs WHERE kind = {m} AND value = {m} ORDER BY idx LIMIT {m}"  # noqa: S608
            return [int(r[0]) for r in conn.exec_driver_sql(sql, (kind, value, limit))]

    def names(self, table: str, column: str) -> list[str]:
        """The distinct values of one column of one table, sorted."""
        c = LINEAGE_TABLES[table].c[column]
        with self._connection() as conn:
            return [v for v in conn.execute(sa.select(c).distinct().order_by(c)).scalars() if v]

    def search(self, text: str, *, limit: int = 50) -> list[int]:
        """Entries whose words match ``text`` (every word, as a prefix), best first.

        Only the newest ``RANKED`` matches are ranked: a word in most entries costs a
        bounded time, and the best of what is recent comes first.
        """
        words = [w for w in _WORD.findall(text.lower()) if w][:16]
        if not words:
            return []
        with self._connection() as conn:
            if conn.dialect.name == "sqlite":
                match = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
                stmt = sa.text(
                    f"SELECT rowid FROM (SELECT rowid, rank FROM {SEARCH_TABLE} "  # noqa: S608
                    f"WHERE {SEARCH_TABLE} MATCH :q ORDER BY rowid DESC LIMIT :m) "
                    "ORDER BY rank LIMIT :n"
                )
                rows = conn.execute(stmt, {"q": match, "m": RANKED, "n": limit})
            else:
                ranked = _newest_ranked(conn, tsquery_of(words))
                return [idx for idx, _ in sorted(ranked, key=lambda r: (-r[1], -r[0]))[:limit]]
            return [int(r[0]) for r in rows]
