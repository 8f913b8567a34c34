"""Provenance: checksums are real SHA-256, the cache notices changed files, versions are read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from crossling.core.provenance import (
    data_checksums,
    data_key,
    device_description,
    package_versions,
    provenance,
    sha256_file,
)


def test_sha256_matches_hashlib_and_follows_file_changes(tmp_path: Path) -> None:
    f = tmp_path / "x.conllu"
    f.write_bytes(b"# sent_id = 1\n")
    assert sha256_file(f) == hashlib.sha256(b"# sent_id = 1\n").hexdigest()
    f.write_bytes(b"# sent_id = 2\n")
    os.utime(f, ns=(1, 10**18))  # a new mtime: the cache must not return the old digest
    assert sha256_file(f) == hashlib.sha256(b"# sent_id = 2\n").hexdigest()


def test_a_same_size_rewrite_within_one_clock_tick_is_seen(tmp_path: Path) -> None:
    """File times tick coarsely: a file rewritten at the same size may keep its mtime. A
    damaged model file was once reported as still damaged after its rebuild (the cached
    digest of the damaged bytes), so a recently modified file is always read again."""
    f = tmp_path / "x.bin"
    f.write_bytes(b"aaaa")
    st = f.stat()
    assert sha256_file(f) == hashlib.sha256(b"aaaa").hexdigest()
    f.write_bytes(b"bbbb")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # within the same tick
    assert sha256_file(f) == hashlib.sha256(b"bbbb").hexdigest()


def test_a_settled_file_is_hashed_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import crossling.core.provenance as prov

    f = tmp_path / "old.bin"
    f.write_bytes(b"settled")
    os.utime(f, ns=(10**18, 10**18))
    calls: list[str] = []
    real = prov._sha256
    monkeypatch.setattr(prov, "_sha256", lambda p: calls.append(p) or real(p))
    assert sha256_file(f) == sha256_file(f) == hashlib.sha256(b"settled").hexdigest()
    assert len(calls) == 1


def test_record_holds_versions_device_commit_and_data(tmp_path: Path) -> None:
    import torch

    f = tmp_path / "d.txt"
    f.write_text("a\n")
    rec = provenance([f], seed=3, pooling="mean")
    assert rec["seed"] == 3 and rec["pooling"] == "mean"
    assert rec["versions"]["torch"] == torch.__version__ == package_versions()["torch"]
    assert "crossling" in rec["versions"] and "python" in rec["versions"]
    # keyed by folder and name: no path of this machine in a result
    assert rec["data"] == {f"{tmp_path.name}/d.txt": sha256_file(f)}
    assert rec["device"].startswith(("cpu:", "cuda:"))
    assert rec["git_commit"] is None or len(rec["git_commit"].split("-")[0]) == 40


def test_data_files_of_one_name_in_two_folders_are_both_kept(tmp_path: Path) -> None:
    a, b = tmp_path / "x" / "ud" / "t.conllu", tmp_path / "y" / "ud" / "t.conllu"
    for f, text in ((a, "a\n"), (b, "b\n")):
        f.parent.mkdir(parents=True)
        f.write_text(text)
    assert data_key(a) == "ud/t.conllu"
    assert data_checksums([a, b, a]) == {"ud/t.conllu": sha256_file(a),
                                         "ud/t.conllu#2": sha256_file(b)}


def test_record_describes_the_device_actually_used(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A GPU on the machine must not be reported for a computation that ran on the CPU."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    rec = provenance(device=torch.device("cpu"), seed=1)
    assert rec["device"].startswith("cpu:") and rec["seed"] == 1
    assert device_description("cpu") == rec["device"]


def test_default_device_is_the_packages_one_choice(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The default device described comes from crossling.core.devices.pick_device, not a copy."""
    import pytest

    from crossling.core import devices
    from crossling.core.errors import ConfigError

    calls: list[object] = []
    real = devices.pick_device

    def spy(device: str | None = None):  # type: ignore[no-untyped-def]
        calls.append(device)
        return real(device)

    monkeypatch.setattr(devices, "pick_device", spy)
    device_description()
    device_description("cpu")
    assert calls == [None, "cpu"]
    with pytest.raises(ConfigError, match=r"^device 'bogus'"):
        device_description("bogus")
