"""Atomic writes: a failed writer leaves the old file intact and no temporary behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossling.core.atomic import atomic_path, atomic_write, write_json, write_text


def test_failed_writer_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "scores.csv"
    write_text(target, "old\n")

    def crash(fh):  # type: ignore[no-untyped-def]
        fh.write("half a row,")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, crash)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_atomic_path_keeps_the_suffix_and_creates_folders(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "plot.png"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == target.parent and not target.exists()
        tmp.write_bytes(b"\x89PNG")
    assert target.read_bytes() == b"\x89PNG" and not tmp.exists()


def test_write_json_is_sorted_and_stable(tmp_path: Path) -> None:
    path = write_json(tmp_path / "a.json", {"b": 1, "a": [Path("x")]})
    text = path.read_text()
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n")
    assert json.loads(text) == {"a": ["x"], "b": 1}


def test_written_files_get_the_usual_permissions_not_mkstemps_0600(tmp_path: Path) -> None:
    import stat

    fresh = tmp_path / "plain.txt"
    fresh.write_text("x")  # what any new file gets under this umask
    out = write_text(tmp_path / "report.md", "# report\n")
    assert stat.S_IMODE(out.stat().st_mode) == stat.S_IMODE(fresh.stat().st_mode)


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporaries_carry_the_writers_pid_in_one_pattern(tmp_path: Path) -> None:
    import os

    from crossling.core.atomic import TEMP_MARK

    with atomic_path(tmp_path / "last.pt") as tmp:
        assert tmp.name.startswith(f"{TEMP_MARK}{os.getpid()}-last.pt.")
        assert tmp.suffix == ".pt"


def test_stale_temporaries_of_dead_writers_are_removed_live_ones_kept(tmp_path: Path) -> None:
    """What SIGKILL mid-write leaves behind goes on the next start; a concurrent writer's
    temporary, and files that are not crossling temporaries, stay."""
    import os
    import subprocess
    import sys
    import time

    from crossling.core.atomic import remove_stale_temps

    dead = _dead_pid()
    stale_file = tmp_path / f".crossling-tmp-{dead}-last.pt.abc123.pt"
    stale_file.write_bytes(b"half a checkpoint")
    stale_dir = tmp_path / f".crossling-tmp-{dead}-model.k2j3h4"
    (stale_dir / "encoder").mkdir(parents=True)
    (stale_dir / "encoder" / "model.safetensors").write_bytes(b"x")
    mine = tmp_path / f".crossling-tmp-{os.getpid()}-best.pt.zz9.pt"  # being written right now
    mine.write_bytes(b"in progress")
    # the same pid, but written before this process started: a dead writer whose pid was reused
    reused = tmp_path / f".crossling-tmp-{os.getpid()}-scores.json.q1.json"
    reused.write_text("{")
    os.utime(reused, (time.time() - 10 * 86400,) * 2)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.1)
        other = tmp_path / f".crossling-tmp-{sleeper.pid}-last.pt.p0.pt"  # a concurrent run
        other.write_bytes(b"live")
        unrelated = tmp_path / ".last.pt.abc.tmp.pt"
        unrelated.write_bytes(b"not ours to judge")
        removed = remove_stale_temps(tmp_path)
        assert sorted(removed) == sorted([stale_file, stale_dir, reused])
        assert not stale_file.exists() and not stale_dir.exists() and not reused.exists()
        assert mine.exists() and other.exists() and unrelated.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_remove_stale_temps_can_be_limited_to_one_target(tmp_path: Path) -> None:
    from crossling.core.atomic import remove_stale_temps

    dead = _dead_pid()
    mine = tmp_path / f".crossling-tmp-{dead}-e5.x1"
    theirs = tmp_path / f".crossling-tmp-{dead}-e5-enpt.x2"
    mine.mkdir()
    theirs.mkdir()
    assert remove_stale_temps(tmp_path, name="e5") == [mine]
    assert theirs.exists()


def test_check_output_dir_refuses_files_in_the_way_and_creates_nothing(tmp_path: Path) -> None:
    import os

    from crossling.core.atomic import check_output_dir
    from crossling.core.errors import ConfigError

    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    with pytest.raises(ConfigError, match=r"^out .*taken: is a file, not a folder$"):
        check_output_dir(blocker)
    with pytest.raises(ConfigError, match=r"^out .*taken/a/b: has .*taken in its way"):
        check_output_dir(blocker / "a" / "b")
    fresh = tmp_path / "new" / "deeper"
    assert check_output_dir(fresh) == fresh and not (tmp_path / "new").exists()
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        with pytest.raises(ConfigError, match="is not writable"):
            check_output_dir(locked / "run")


@pytest.mark.parametrize("failure", ["torch", "oserror", "safetensors"])
def test_full_disk_is_one_enospc_naming_the_target(tmp_path: Path, failure: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.save's RuntimeError ("unexpected pos"), an OSError without a file name and
    safetensors' StorageFull error all become OSError(ENOSPC) naming the file being written;
    the old file stays and no temporary is left."""
    import errno
    import shutil
    from collections import namedtuple

    import crossling.core.atomic as atomic

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(atomic.shutil, "disk_usage",
                        lambda p: usage(10**9, 10**9 - 4096, 4096) if failure == "torch"
                        else shutil.disk_usage(p))
    target = tmp_path / "last.pt"
    target.write_text("old")
    errors = {"torch": RuntimeError("[enforce fail at inline_container.cc:672] . unexpected "
                                    "pos 704 vs 598"),
              "oserror": OSError(errno.ENOSPC, "No space left on device"),
              "safetensors": Exception("Error while serializing: IoError(Os { code: 28, kind: "
                                       "StorageFull, message: \"No space left on device\" })")}
    with pytest.raises(OSError) as info, atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise errors[failure]
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


def test_other_failures_are_not_called_a_full_disk(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="a bug"), atomic_path(tmp_path / "x.pt"):
        raise RuntimeError("a bug")
