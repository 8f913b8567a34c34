"""Atomic file writes: a reader sees either the old file or the complete new one, never half.

Results and caches are written to a temporary file in the same directory, flushed and fsynced,
then moved into place with `os.replace` (atomic on POSIX and Windows). An interrupted
run therefore leaves no truncated CSV, JSON or checkpoint behind. A write that fails because the
disk is full, however the writer reports it, becomes one ``OSError(ENOSPC)`` naming the target
(`disk_full_as_oserror`), and the temporary is removed.

A process killed mid-write (SIGKILL, power loss) cannot delete its temporary, and a checkpoint's
temporary weighs as much as the checkpoint (1.3 GB for e5-small's ``last.pt``). Every temporary
is therefore named ``.crossling-tmp-<pid>-<target name>.<random><suffix>``
(`temp_prefix`), and `remove_stale_temps` deletes those of a folder whose writer is
gone: the pid is dead, or alive but started after the temporary was last written (a reused pid).
A concurrent writer's temporary is never touched.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from crossling.core.errors import CrosslingError, SettingError


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; a result file should get the permissions any other new file gets
# (a report folder is meant to be shared or served). Read once: os.umask can only be read by
# setting it, which is not safe to repeat while other threads create files.
_FILE_MODE = 0o666 & ~_read_umask()


TEMP_MARK = ".crossling-tmp-"
"""Every temporary crossling writes starts with this, then the writer's pid."""

_TEMP_RE = re.compile(r"^\.crossling-tmp-(\d+)-(.+)$")
_IMPORTED = time.time()  # fallback start time of this process where /proc is unavailable


def temp_prefix(name: str) -> str:
    """Prefix of a temporary for the target ``name``, owned by this process (pid encoded)."""
    return f"{TEMP_MARK}{os.getpid()}-{name}."


def make_temp_dir(parent: str | Path, name: str) -> Path:
    """A fresh temporary folder in ``parent`` for building ``name`` (removed by
    `remove_stale_temps` if its writer dies before renaming it into place)."""
    return Path(tempfile.mkdtemp(prefix=temp_prefix(name), dir=parent))


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _process_start(pid: int) -> float | None:
    """Start time of ``pid`` (seconds since the epoch) where /proc tells it, else None."""
    boot = _boot_time()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the command name may contain spaces
    if boot is None or len(fields) < 20:
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return False
    return True


def is_stale_temp(path: str | Path) -> bool:
    """True if ``path`` is a crossling temporary whose writer can no longer finish it.

    Its pid is dead, or the process now holding that pid started after the temporary was last
    written (pid reuse, common in containers where every run gets the same small pid).
    """
    p = Path(path)
    m = _TEMP_RE.match(p.name)
    if m is None:
        return False
    pid = int(m.group(1))
    if not _pid_alive(pid):
        return True
    try:
        written = p.lstat().st_mtime
    except OSError:
        return False
    start = _process_start(pid)
    if start is None and pid == os.getpid():
        start = _IMPORTED
    # two seconds of slack: /proc's boot time has one-second resolution
    return start is not None and written < start - 2.0


def remove_stale_temps(folder: str | Path, name: str | None = None) -> list[Path]:
    """Delete the stale crossling temporaries (files or folders) directly in ``folder``.

    With ``name``, only temporaries for that target name. Returns what was removed. Call it when
    a run (re)starts in a folder, so that temporaries of killed runs do not pile up.
    """
    removed: list[Path] = []
    d = Path(folder)
    if not d.is_dir():
        return removed
    for p in d.iterdir():
        m = _TEMP_RE.match(p.name)
        if m is None or (name is not None and not m.group(2).startswith(f"{name}.")) \
                or not is_stale_temp(p):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def check_output_dir(path: str | Path, option: str = "out") -> Path:
    """Raise a one-line SettingError named ``option`` unless ``path`` is (or can be made) a
    writable folder.

    Checked before any work starts, so that an unusable output location fails in a second
    instead of after hours of training. Nothing is created.
    """
    p = Path(path)
    probe = p
    while True:
        if probe.exists() or probe.is_symlink():
            if not probe.is_dir():
                what = "is" if probe == p else f"has {probe} in its way, which is"
                raise SettingError(option, f"{p}: {what} a file, not a folder")
            if not os.access(probe, os.W_OK | os.X_OK):
                raise SettingError(option, f"{p}: {probe} is not writable")
            return p
        if probe.parent == probe:
            return p
        probe = probe.parent


NEARLY_FULL = 1 << 20
"""Free bytes under which a failed write is taken to have failed for want of space."""

_FULL_HINTS = ("no space left on device", "storagefull", "database or disk is full")


def is_disk_full(exc: BaseException, folder: str | Path) -> bool:
    """True if ``exc``, raised while writing into ``folder``, means the disk is full.

    Writers report it in their own ways: Python's ``OSError`` (errno ENOSPC, often without a
    file name), SQLite's "database or disk is full", safetensors' ``StorageFull``, and
    torch.save's ``RuntimeError`` ("unexpected pos ..."), which says nothing about why: for
    that one the free space of ``folder`` decides (under `NEARLY_FULL` bytes).
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if any(hint in str(seen).lower() for hint in _FULL_HINTS):
            return True
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, CrosslingError):
        return False
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL
    except OSError:
        return False


def disk_full(path: str | Path) -> OSError:
    """The error every full-disk failure becomes: ENOSPC naming ``path`` (the CLI prints it as
    one ``disk full`` line and exits 2)."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


@contextmanager
def disk_full_as_oserror(path: str | Path) -> Iterator[None]:
    """Turn a full-disk failure of the writes in the block into `disk_full` of ``path``;
    other errors pass unchanged."""
    try:
        yield
    except Exception as exc:
        if is_disk_full(exc, Path(path).parent if not Path(path).is_dir() else path):
            raise disk_full(path) from exc
        raise


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path`` atomically.

    Use this for writers that insist on a file name (``torch.save``, ``savefig``, safetensors).
    The temporary keeps the target's suffix so that format detection by extension still works.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(target.name), suffix=target.suffix,
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with disk_full_as_oserror(target):  # checked while the temporary still fills the disk
            yield tmp
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: str | Path, writer: Callable[[IO[str]], Any]) -> Path:
    """Write a text file atomically with ``writer(fh)``; return the final path."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer(fh)
    return Path(path)


def atomic_write_gzip(path: str | Path, writer: Callable[[IO[str]], Any]) -> Path:
    """`atomic_write` into a gzip file whose bytes depend on the text alone (no name, no time
    in its header), so the same text gives the same file."""
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8", newline="") as fh:
        writer(fh)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    return atomic_write(path, lambda fh: fh.write(text))


def write_json(path: str | Path, obj: Any) -> Path:
    """Atomically write ``obj`` as indented, key-sorted JSON (stable diffs between runs)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
