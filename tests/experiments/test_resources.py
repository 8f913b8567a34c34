"""What a cell asks a Ray cluster for, per kind, and the one-line errors of the study file."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import ConfigError, SettingError
from crossling.experiments.resources import GIB, ClusterShape, Resources, ray_request, threads_of

GPU_NODES = ClusterShape(total={"CPU": 64, "GPU": 8, "memory": 512 * GIB},
                         largest={"CPU": 32, "GPU": 4, "memory": 256 * GIB, "a100": 4})
LAPTOP = ClusterShape(total={"CPU": 2, "memory": 8 * GIB},
                      largest={"CPU": 2, "memory": 8 * GIB})


def test_defaults_per_kind_take_a_gpu_only_where_there_is_one() -> None:
    assert ray_request("finetune", None, GPU_NODES) == {
        "num_cpus": 4, "num_gpus": 1, "memory": 12 * GIB}
    assert ray_request("retrieval", None, GPU_NODES)["num_cpus"] == 2
    # no GPU: CPUs and memory shrunk to fit the largest node (memory: half of it)
    assert ray_request("finetune", None, LAPTOP) == {
        "num_cpus": 2, "num_gpus": 0, "memory": 4 * GIB}
    assert ray_request("some_test_kind", None, LAPTOP) == {"num_cpus": 1, "num_gpus": 0}


def test_a_studys_values_are_kept_or_refused_naming_the_field() -> None:
    spec = Resources(cpus=8, gpus=0.5, memory_gb=20, custom={"a100": 1})
    assert ray_request("finetune", spec, GPU_NODES) == {
        "num_cpus": 8, "num_gpus": 0.5, "memory": 20 * GIB, "resources": {"a100": 1.0}}
    for bad, field in ((Resources(gpus=1), "gpus"), (Resources(cpus=4), "cpus"),
                       (Resources(memory_gb=9), "memory_gb"),
                       (Resources(custom={"node_a": 1}), "custom.node_a")):
        with pytest.raises(ConfigError, match=rf"^resources\.probe\.{field}: .* no node"):
            ray_request("probe", bad, LAPTOP)


@pytest.mark.parametrize(("values", "message"), [
    ({"cpus": 0}, "cpus: must be > 0, got 0"),
    ({"gpus": -1}, "gpus: must be >= 0, got -1"),
    ({"memory_gb": "lots"}, "memory_gb: must be a finite number, got 'lots'"),
    ({"custom": {"GPU": 1}}, "custom.GPU: set cpus, gpus or memory_gb instead"),
    ({"custom": {"node_a": 0}}, "custom.node_a: must be > 0, got 0"),
    ({"custom": [1]}, "custom: expected a mapping"),
])
def test_bad_values(values: dict[str, object], message: str) -> None:
    with pytest.raises(SettingError) as err:
        Resources(**values)  # type: ignore[arg-type]
    assert f"{err.value.name}: {err.value.problem}".startswith(message)


def test_threads_follow_the_cpus() -> None:
    assert threads_of({"num_cpus": 4}) == 4
    assert threads_of({"num_cpus": 0.5}) == 1
    assert threads_of({}) == 1


STUDY = """
model: {model}
data: {{ud: {ud}}}
similarity: {{languages: [fr], measures: [linear_cka], n: 8}}
"""


def _study(tmp_path: Path, fixture_dir: Path, fixture_bert: Path, extra: str) -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(STUDY.format(model=fixture_bert, ud=fixture_dir / "ud") + extra,
                 encoding="utf-8")
    return p


@pytest.mark.parametrize(("extra", "message"), [
    ("resources: {similarity: {gpus: -1}}", "resources.similarity.gpus: must be >= 0, got -1"),
    ("resources: {similarity: {cpu: 2}}", "resources.similarity.cpu: unknown field"),
    ("resources: {similarity: {custom: {n: 0}}}",
     "resources.similarity.custom.n: must be > 0, got 0"),
    ("resources: {simlarity: {cpus: 2}}", "resources.simlarity: unknown cell kind"),
    ("artifacts: ''", "artifacts: empty"),
    ("artifacts: nosuchfs://bucket/x", "artifacts: nosuchfs://bucket/x: unknown protocol"),
])
def test_the_study_file_sections(tmp_path: Path, fixture_dir: Path, fixture_bert: Path,
                                 extra: str, message: str) -> None:
    from crossling.experiments.config import load_study
    from crossling.experiments.grid import expand

    path = _study(tmp_path, fixture_dir, fixture_bert, extra)
    with pytest.raises(ConfigError) as err:
        expand(load_study(path))
    assert str(err.value).startswith(f"{path}: {message}")
    assert "\n" not in str(err.value)


def test_resources_and_artifacts_do_not_change_cell_keys(tmp_path: Path, fixture_dir: Path,
                                                         fixture_bert: Path) -> None:
    from crossling.experiments.config import load_study
    from crossling.experiments.grid import expand

    plain = load_study(_study(tmp_path, fixture_dir, fixture_bert, ""))
    (tmp_path / "b").mkdir()
    tuned = load_study(_study(tmp_path / "b", fixture_dir, fixture_bert,
                              "resources: {similarity: {cpus: 2, custom: {node_a: 1}}}\n"
                              "artifacts: store\n"))
    assert tuned.resources["similarity"] == Resources(cpus=2, custom={"node_a": 1})
    assert tuned.artifacts == str(tmp_path / "b" / "store")  # beside the study file
    assert [c.key for c in expand(plain)] == [c.key for c in expand(tuned)]
