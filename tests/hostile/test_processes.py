"""Two processes ingesting and cutting checkpoints on one store never cut a shrinking tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from flightlog.config import Settings
from flightlog.service import Flightlog

ROUNDS = 80

_WORKER = """
import sys
from pathlib import Path
from flightlog.config import Settings
from flightlog.service import Flightlog
from tests.factories import jsonl, service_deployed

url, home, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
settings = Settings(database_url=url, home=home, origin=sys.argv[5])
with Flightlog.open(settings) as fl:
    for n in range(int(sys.argv[4])):
        events = [service_deployed(n * 2 + k, source=f"/{name}") for k in range(2)]
        fl.record(fl.parse_and_validate(jsonl(events), name=name))
        fl.checkpoint()
"""


def test_checkpoints_from_two_processes_never_shrink(settings: Settings) -> None:
    """Checkpoints cut by two ingesting processes grow in id order and the log verifies."""
    with Flightlog.open(settings) as fl:
        fl.checkpoint()  # the key exists before the workers start
    root = Path(__file__).resolve().parents[2]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                settings.database_url,
                str(settings.home),
                name,
                str(ROUNDS),
                settings.origin,
            ],
            cwd=root,
        )
        for name in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    with Flightlog.open(settings) as fl:
        with fl.store.engine.connect() as conn:
            sizes = [
                int(s)
                for s in conn.execute(
                    sa.text("SELECT tree_size FROM checkpoints ORDER BY id")
                ).scalars()
            ]
        assert sizes == sorted(sizes)
        assert sizes[-1] == 2 * ROUNDS * 2
        report = fl.verify()
        assert report.ok, report.problem
