"""Store guarantees: atomic cells, no recomputation, resume after SIGKILL, concurrent writers."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from crossling.experiments import store as store_module
from crossling.experiments.cell import Cell
from crossling.experiments.store import ResultStore
from crossling.results import ModelModelRow, ProbeRow, ScoreRow, SentenceCounts, SimilarityRow
from tests.experiments.fakes import Fake


def _row(i: int, cell: str = "c") -> ScoreRow:
    return ScoreRow(task="pos", language=f"l{i}", split="test", metric="upos_acc",
                    value=float(i), ci_low=0.0, ci_high=100.0, n_sentences=1, n_units=1,
                    model="m", reinit="REF", seed=0, provenance={"cell": cell})


def test_finish_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.add_cells("study", [Cell("a", "fake", Fake()), Cell("b", "fake", Fake())])
    assert store.claim("a")
    assert not store.claim("a")  # a live worker holds it
    store.finish("a", [_row(1), _row(2)], {"p": 1})
    assert store.claim("b")
    calls = []
    real_encode = store_module._encode

    def failing_encode(row: ScoreRow) -> list[object]:
        calls.append(row)
        if len(calls) == 2:
            raise RuntimeError("crash while writing the second row")
        return real_encode(row)

    monkeypatch.setattr(store_module, "_encode", failing_encode)
    with pytest.raises(RuntimeError):
        store.finish("b", [_row(3), _row(4)], {})
    monkeypatch.undo()
    # nothing of b was kept, and a is untouched
    assert store.status("b") == "running" and len(store.score_rows()) == 2
    assert store.status("a") == "done" and not store.claim("a")
    assert store.provenance("a") == {"p": 1}
    assert [r.language for r in store.score_rows("study")] == ["l1", "l2"]


def test_dead_workers_cells_are_reclaimed(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.add_cells("study", [Cell("a", "fake", Fake())])
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    import sqlite3

    con = sqlite3.connect(tmp_path / "s.sqlite")
    con.execute("UPDATE cells SET status='running', worker=?, heartbeat=? WHERE key='a'",
                (f"{os.uname().nodename}:{proc.pid}", time.time()))
    con.commit()
    con.close()
    assert not store.claim("a")  # its worker is alive
    proc.kill()
    proc.wait()
    assert store.claim("a")  # its worker is gone


def _writer(path: str, worker: int, n: int) -> None:
    store = ResultStore(path)
    for i in range(n):
        key = f"w{worker}-{i}"
        store.add_cells("study", [Cell(key, "fake", Fake())])
        assert store.claim(key)
        store.finish(key, [_row(j, key) for j in range(5)], {"worker": worker})


def test_concurrent_writers_never_corrupt(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite")
    ResultStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ResultStore(path)
    assert len(store.cells()) == 60 and all(c["status"] == "done" for c in store.cells())
    assert len(store.score_rows()) == 300


SCRIPT = """
import sys, time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from crossling.experiments.cell import Cell, CellParams
from crossling.experiments.executors import RunSettings, run_local
from crossling.experiments.kinds import KINDS
from crossling.experiments.store import ResultStore
from crossling.results import ScoreRow

log = Path(sys.argv[2])

@dataclass(frozen=True)
class Slow(CellParams):
    name: str
    sleep: float

def slow(params, workdir):
    with open(log, "a") as fh:
        fh.write(params.name + "\\n")
    time.sleep(params.sleep)
    return [ScoreRow("pos", params.name, "test", "upos_acc", 1.0, 0.0, 2.0, 1, 1, "m",
                     "REF", 0, {})], {"name": params.name}

KINDS["slow"] = SimpleNamespace(KIND="slow", expand=None, run=slow)
grid = [Cell(f"k{i}", "slow", Slow(name=f"c{i}", sleep=0.4)) for i in range(12)]
store = ResultStore(sys.argv[1])
store.add_cells("s", grid)
run_local(grid, store, Path(sys.argv[1]).parent / "work", RunSettings(progress=False))
"""


def test_sigkill_mid_grid_resumes_without_losing_or_redoing_cells(tmp_path: Path) -> None:
    script = tmp_path / "grid.py"
    script.write_text(SCRIPT, encoding="utf-8")
    db, log = tmp_path / "s.sqlite", tmp_path / "started.log"
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(log)])
    deadline = time.time() + 60
    while time.time() < deadline:
        if db.exists() and sum(c["status"] == "done" for c in ResultStore(db).cells()) >= 4:
            break
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {c["key"]: c["status"] for c in ResultStore(db).cells()}
    finished = {k for k, s in before.items() if s == "done"}
    assert 4 <= len(finished) < 12
    subprocess.run([sys.executable, str(script), str(db), str(log)], check=True, timeout=120)
    after = ResultStore(db)
    assert all(c["status"] == "done" for c in after.cells())
    assert len(after.score_rows()) == 12
    started = log.read_text().split()
    # no finished cell ran again; only the one killed mid-run (if any) started twice
    assert all(started.count(f"c{k[1:]}") == 1 for k in finished)
    assert len(started) - len(set(started)) <= 1


def _filled(path: Path) -> ResultStore:
    store = ResultStore(path)
    store.add_cells("study", [Cell("a", "fake", Fake())])
    assert store.claim("a")
    store.finish("a", [_row(1)], {"p": 1})
    return store


@pytest.mark.parametrize("readonly", [False, True])
def test_a_file_that_is_not_a_results_store_is_refused_untouched(tmp_path: Path,
                                                                 readonly: bool) -> None:
    """Used to end in a sqlite3.DatabaseError traceback (or, for another SQLite database, to
    add the store's tables to it)."""
    import sqlite3

    from crossling.core.errors import ConfigError

    text = tmp_path / "notes.sqlite"
    text.write_text("just some notes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notes\.sqlite: not an SQLite database") as err:
        ResultStore(text, readonly=readonly)
    assert "\n" not in str(err.value) and text.read_text() == "just some notes\n"
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE things (x)")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(ConfigError, match=r"other\.db: an SQLite database but not a crossling"):
        ResultStore(other, readonly=readonly)
    assert other.read_bytes() == before
    with pytest.raises(ConfigError, match=r"a folder, not a results store"):
        ResultStore(tmp_path, readonly=readonly)


def test_an_empty_file_is_a_new_store_for_writers_only(tmp_path: Path) -> None:
    from crossling.core.errors import ConfigError

    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(ConfigError, match=r"empty\.sqlite: empty file \(0 bytes\)"):
        ResultStore(empty, readonly=True)
    assert empty.stat().st_size == 0  # the reader left it as it was
    with pytest.raises(ConfigError, match=r"missing\.sqlite: no results store"):
        ResultStore(tmp_path / "missing.sqlite", readonly=True)
    assert not (tmp_path / "missing.sqlite").exists()
    ResultStore(empty).add_cells("study", [Cell("a", "fake", Fake())])  # SQLite's convention
    assert [c["key"] for c in ResultStore(empty, readonly=True).cells()] == ["a"]


def test_readonly_store_reads_and_never_writes(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    path = tmp_path / "s.sqlite"
    _filled(path)
    ro = ResultStore(path, readonly=True)
    assert [r.language for r in ro.score_rows("study")] == ["l1"]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.add_cells("study", [Cell("b", "fake", Fake())])
    # in a folder this user cannot write (no -shm file can be created) it is read as immutable
    monkeypatch.setattr(store_module.os, "access", lambda *a, **k: False)
    ro = ResultStore(path, readonly=True)
    assert ro._immutable and ro.status("a") == "done" and ro.provenance("a") == {"p": 1}


def test_typed_row_fields_are_stored_and_read_back(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.add_cells("study", [Cell("a", "fake", Fake())])
    assert store.claim("a")
    score = replace(_row(1), source="l1")
    probed = ProbeRow(**{**_row(2).record(), "task": "probe_pos", "source": "l2", "layer": 7})
    tuned = ModelModelRow(source="fr", target="fr", layer=2, metric="linear_cka", value=0.5,
                          ci_low=0.4, ci_high=0.6, null_mean=0.1, null_high=0.2, n=10,
                          pooling="mean", model="m", compare_model="m+pos",
                          provenance={"seed": 0}, task="pos", seed=3, finetune_cell="ft-3")
    pretrained = SimilarityRow.from_record({**tuned.record(), "kind": "cross-lingual",
                                            "source": "en", "compare_model": None, "task": None,
                                            "seed": None, "finetune_cell": None})
    store.finish("a", [score, probed, tuned, pretrained], {})
    assert store.score_rows() == [score, probed] and store.score_rows()[1].layer == 7
    assert store.similarity_rows() == [tuned, pretrained]


# The row tables as the version before ScoreRow.source and SimilarityRow.task/seed/finetune_cell.
_OLD_SCORE_COLS = ["task", "language", "split", "metric", "value", "ci_low", "ci_high",
                   "n_sentences", "n_units", "model", "reinit", "seed", "provenance"]
_OLD_SIM_COLS = ["kind", "source", "target", "layer", "metric", "value", "ci_low", "ci_high",
                 "null_mean", "null_high", "n", "pooling", "model", "compare_model", "provenance"]


def _old_store(path: Path) -> None:
    """A store as an older crossling wrote it, with one finished cell and one row of each kind."""
    con = sqlite3.connect(path)
    con.executescript(f"""
        CREATE TABLE cells (key TEXT PRIMARY KEY, study TEXT NOT NULL, kind TEXT NOT NULL,
            label TEXT NOT NULL, params TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
            error TEXT, worker TEXT, heartbeat REAL, started REAL, finished REAL,
            attempts INTEGER DEFAULT 0, provenance TEXT);
        CREATE TABLE scores (cell TEXT NOT NULL REFERENCES cells(key),
            {", ".join(c + " TEXT" for c in _OLD_SCORE_COLS)});
        CREATE TABLE similarity (cell TEXT NOT NULL REFERENCES cells(key),
            {", ".join(c + " TEXT" for c in _OLD_SIM_COLS)});
        INSERT INTO cells(key, study, kind, label, params, status)
            VALUES ('old', 'study', 'fake', 'old', '{{}}', 'done');
    """)
    score = ["pos", "en", "test", "upos_acc", 90.0, 89.0, 91.0, 5, 50, "m", "REF", 0]
    sim = ["model-model", "fr", "fr", 1, "linear_cka", 0.5, 0.4, 0.6, 0.1, 0.2, 10, "mean",
           "m", "m+pos-seed0"]
    prov = json.dumps({"source": "en", "task": "pos", "seed": 0})
    con.execute(f"INSERT INTO scores VALUES (?{',?' * len(_OLD_SCORE_COLS)})",
                ["old", *map(json.dumps, score), prov])
    con.execute(f"INSERT INTO similarity VALUES (?{',?' * len(_OLD_SIM_COLS)})",
                ["old", *map(json.dumps, sim), prov])
    con.commit()
    con.close()


def _columns(path: Path, table: str) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    finally:
        con.close()


def test_a_store_of_an_older_version_opens_and_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _old_store(path)
    # read-only (a report): the old rows load, their fields upgraded from the provenance tags
    # of that version (crossling.results.compat), and the file is unchanged
    ro = ResultStore(path, readonly=True)
    (old_score,) = ro.score_rows()
    assert ro.score_rows(sentences=True) == [old_score]  # no sentences table: no counts
    assert ro.score_rows(sentences=True)[0].sentences is None
    (old_sim,) = ro.similarity_rows()
    assert old_score.source == "en" and not isinstance(old_score, ProbeRow)
    assert (old_sim.task, old_sim.seed, old_sim.finetune_cell) == ("pos", 0, None)
    assert isinstance(old_sim, ModelModelRow) and old_sim.reinit is None
    assert _columns(path, "scores") == ["cell", *_OLD_SCORE_COLS]
    # a writer adds the missing columns (the old rows keep NULL there: None) and stores new rows
    store = ResultStore(path)
    assert _columns(path, "scores") == ["cell", *_OLD_SCORE_COLS, "source", "layer"]
    assert _columns(path, "similarity") == ["cell", *_OLD_SIM_COLS, "task", "seed",
                                            "finetune_cell", "compare_layer", "reinit",
                                            "compare_seed"]
    ResultStore(path)  # opening again adds nothing (no duplicate-column error)
    assert store.score_rows() == [old_score] and store.similarity_rows() == [old_sim]
    store.add_cells("study", [Cell("new", "fake", Fake())])
    assert store.claim("new")
    new_sim = SimilarityRow.from_record({**old_sim.record(), "kind": "seed-seed",
                                         "finetune_cell": "ft-0", "reinit": "REF",
                                         "compare_seed": 1})
    fall = SimilarityRow.from_record({**old_sim.record(), "kind": "layer-difference", "layer": 8,
                                      "compare_layer": 12, "compare_model": None,
                                      "null_mean": math.nan, "null_high": math.nan})
    store.finish("new", [replace(old_score, language="fr"), new_sim, fall], {})
    assert [r.language for r in store.score_rows()] == ["en", "fr"]
    assert store.similarity_rows() == [old_sim, new_sim, fall]
    assert store.similarity_rows()[2].compare_layer == 12
    assert ResultStore(path, readonly=True).similarity_rows("study", keys={"new"}) == [new_sim,
                                                                                       fall]


def test_per_sentence_counts_are_stored_with_their_cell_and_replaced_with_it(
        tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.add_cells("study", [Cell("a", "fake", Fake()), Cell("b", "fake", Fake())])
    counts = SentenceCounts((1.0, 0.0, 2.5), (2.0, 1.0, 3.0), 200.0)
    other = SentenceCounts((4.0,), (5.0,), 100.0)
    a_rows = [replace(_row(1, "a"), sentences=counts), _row(2, "a")]
    b_rows = [replace(_row(1, "b"), sentences=other)]  # same language and metric, other cell
    for key, rows in (("a", a_rows), ("b", b_rows)):
        assert store.claim(key)
        store.finish(key, rows, {})
    plain = store.score_rows()
    assert [r.sentences for r in plain] == [None, None, None]  # only when asked for
    read = store.score_rows(sentences=True)
    assert [r.sentences for r in read] == [counts, None, other] and read == plain
    assert [r.sentences for r in store.score_rows(keys={"b"}, sentences=True)] == [other]
    # a cell finished again replaces its counts with its rows (none kept: none left)
    assert store.reopen("a") and store.claim("a")
    store.finish("a", [_row(1, "a")], {})
    assert [r.sentences for r in store.score_rows(sentences=True)] == [other, None]


def test_full_disk_is_one_oserror_naming_the_store_and_keeps_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's "database or disk is full" was a traceback: it is now ENOSPC naming the store
    (the CLI's one "disk full" line), and the store keeps everything committed before."""
    import errno

    path = tmp_path / "s.sqlite"
    store = ResultStore(path)
    store.add_cells("study", [Cell("a", "fake", Fake())])
    assert store.claim("a")
    real_connect = sqlite3.connect

    def full(*args: object, **kwargs: object) -> sqlite3.Connection:
        con = real_connect(*args, **kwargs)  # type: ignore[arg-type]
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count={pages}")  # no room for one more page
        return con

    monkeypatch.setattr(store_module.sqlite3, "connect", full)
    rows = [replace(_row(i, "a"), provenance={"pad": "x" * 5000}) for i in range(50)]
    with pytest.raises(OSError) as info:
        store.finish("a", rows, {"p": 1})
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    monkeypatch.undo()
    assert store.status("a") == "running" and store.score_rows() == []
