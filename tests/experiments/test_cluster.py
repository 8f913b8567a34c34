"""A study across two Ray nodes on this machine, each with its own temp and work folders: the
fine-tuned encoder travels through the artifact store, or the run is refused at start."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossling.experiments.artifacts import ArtifactStore
from crossling.experiments.cluster import NodeCheck, check_node
from crossling.experiments.store import ResultStore

ROOT = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).parent / "ray"

STUDY = """
name: two-nodes
model: {model}
data: {{ud: {ud}}}
allow_test_training: true  # the fixture treebank has test files only
tasks:
  pos: {{train: [{train}], dev: [{train}], test: fr, eval: [de], max_train_sentences: 4,
         max_eval_sentences: 4}}
seeds: [0]
training: {{epochs: 1, batch_size: 4}}
similarity: {{languages: [fr], measures: [linear_cka], n: 8, n_boot: 2, n_null: 2,
              before: false, after: true}}
resources:  # each kind pinned to one node by its custom resource
  finetune: {{cpus: 1, memory_gb: 1, custom: {{node_a: 0.5}}}}
  similarity_ft: {{cpus: 1, custom: {{node_b: 0.5}}}}
"""


def test_a_node_missing_data_or_an_unwritable_folder_says_so(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            ) -> None:
    data = tmp_path / "train.conllu"
    data.write_text("x", encoding="utf-8")
    check = NodeCheck({str(data): 1, str(tmp_path / "ud"): None},
                      driver_folder=str(tmp_path / "cells"))
    assert check_node(check) == [f"1 of 2 data/model paths missing or different, e.g. "
                                 f"{tmp_path / 'ud'}"]
    (tmp_path / "ud").mkdir()
    assert check_node(check) == []
    data.write_text("xy", encoding="utf-8")  # another copy of the file
    assert check_node(check)[0].endswith(str(data))
    data.write_text("x", encoding="utf-8")
    shared = NodeCheck({}, marker=str(tmp_path / "cells" / "m"),
                       driver_folder=str(tmp_path / "cells"), needs_shared=True)
    (tmp_path / "cells").mkdir(exist_ok=True)  # made by the write probe above
    (tmp_path / "cells" / "m").write_text("")
    assert check_node(shared) == []
    monkeypatch.setenv("CROSSLING_NODE_WORKDIR", str(tmp_path / "own"))
    assert check_node(shared)[0].startswith(f"has its own cells folder {tmp_path / 'own'}")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("CROSSLING_NODE_WORKDIR", str(tmp_path / "file" / "x"))
    assert any("cannot write its cells folder" in p for p in check_node(NodeCheck({})))


def test_an_artifact_is_only_there_once_its_upload_finished(tmp_path: Path) -> None:
    src = tmp_path / "enc"
    (src / "sub").mkdir(parents=True)
    (src / "w.bin").write_bytes(b"1234")
    (src / "sub" / "c.json").write_text("{}")
    store = ArtifactStore(str(tmp_path / "store"))
    assert not store.has("k", "encoder") and not store.get("k", "encoder", tmp_path / "x")
    store.put("k", "encoder", src)
    assert store.has("k", "encoder")
    (tmp_path / "store" / "k" / "encoder.json").unlink()  # as if cut short before the end
    assert not store.get("k", "encoder", tmp_path / "x")
    store.put("k", "encoder", src)
    assert store.get("k", "encoder", tmp_path / "x")
    assert (tmp_path / "x" / "w.bin").read_bytes() == b"1234"
    assert (tmp_path / "x" / "sub" / "c.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc", "store", "x"]  # no temporary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kill_ours(temp: str) -> None:
    """End the Ray processes of this test's cluster, by id: those naming its temp folder."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if temp in args:
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass  # ended meanwhile


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A head node (``node_a``) and a second node (``node_b``), one CPU each, each with its own
    ``--temp-dir`` and cells folder (``CROSSLING_NODE_WORKDIR``); a fresh auth token, so no
    other Ray instance on this machine can be joined by mistake."""
    temp = tempfile.mkdtemp(prefix="rt2n", dir="/tmp")  # short: Ray's socket paths
    port = _free_port()
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env = {**os.environ, **auth, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    try:
        for name, where in (("a", ["--head", "--port", str(port), "--include-dashboard=false"]),
                            ("b", ["--address", f"127.0.0.1:{port}"])):
            subprocess.run([str(RAY), "start", *where, *common, "--resources",
                            f'{{"node_{name}": 1}}', "--temp-dir", f"{temp}/{name}"],
                           env={**env, "CROSSLING_NODE_WORKDIR": f"{temp}/work_{name}"},
                           check=True, capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}", Path(temp), auth
    finally:
        _kill_ours(temp)
        time.sleep(0.5)
        shutil.rmtree(temp, ignore_errors=True)


def _study(tmp_path: Path, fixture_dir: Path, model: Path, artifacts: str | None) -> Path:
    train = next((fixture_dir / "ud").glob("*/en_fixture-ud-test.conllu"))
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.format(model=model, ud=fixture_dir / "ud", train=train)
                     + (f"artifacts: {artifacts}\n" if artifacts else ""), encoding="utf-8")
    return study


DRIVER = """
import json, sys
from crossling.core.errors import ConfigError
from crossling.experiments.executors import RunSettings
from crossling.experiments.workflows import run_study
try:
    out = run_study(sys.argv[1], store=sys.argv[2], settings=RunSettings(
        executor="ray", address=sys.argv[3], progress=False, poll_s=0.5))
    print(json.dumps({"counts": out.counts, "failed": out.failed}))
except ConfigError as exc:
    print(json.dumps({"error": str(exc)}))
"""


def _drive(study: Path, store: Path, address: str, auth: dict[str, str]) -> dict[str, object]:
    """``crossling run --executor ray`` in its own process: Ray keeps per-process state (the
    auth token) that another test's local instance would have set."""
    import json

    env = {**os.environ, **auth, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    done = subprocess.run([sys.executable, "-c", DRIVER, str(study), str(store), address],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.ray
def test_a_finetuned_encoder_travels_between_nodes_through_the_artifact_store(
        two_nodes: tuple[str, Path, dict[str, str]], tmp_path: Path, fixture_dir: Path,
        fixture_bert: Path) -> None:
    address, temp, auth = two_nodes
    study = _study(tmp_path, fixture_dir, fixture_bert, str(tmp_path / "artifacts"))
    store = tmp_path / "run" / "results.sqlite"
    assert _drive(study, store, address, auth) == {"counts": {"done": 2}, "failed": []}
    cells = {c["kind"]: c["key"] for c in ResultStore(store).cells()}
    ft, sim = cells["finetune"], cells["similarity_ft"]
    a, b = temp / "work_a", temp / "work_b"
    assert (a / ft / "scores.json").is_file() and not (b / ft / "scores.json").exists()
    assert (b / "vectors").is_dir() and not (a / "vectors").exists()  # measured on node b
    assert not (a / sim).exists()
    assert (b / ft / "encoder" / "config.json").read_bytes() == \
        (a / ft / "encoder" / "config.json").read_bytes()  # what it downloaded
    assert ArtifactStore(str(tmp_path / "artifacts")).has(ft, "encoder")
    assert not list((tmp_path / "run" / "cells").glob("*/"))  # nothing on the driver's disk
    rows = ResultStore(store).similarity_rows()
    assert {r.finetune_cell for r in rows if r.kind == "cross-lingual"} == {ft}


@pytest.mark.ray
def test_without_an_artifact_store_nodes_that_share_no_folder_are_refused_at_start(
        two_nodes: tuple[str, Path, dict[str, str]], tmp_path: Path, fixture_dir: Path,
        fixture_bert: Path) -> None:
    address, _, auth = two_nodes
    study = _study(tmp_path, fixture_dir, fixture_bert, None)
    store = tmp_path / "run" / "results.sqlite"
    message = str(_drive(study, store, address, auth)["error"])
    assert "\n" not in message and message.startswith("node ")
    assert "has its own cells folder" in message and "artifact store" in message
    assert {c["status"] for c in ResultStore(store).cells()} == {"pending"}  # nothing ran
