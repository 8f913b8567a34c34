"""``probe`` cells: layer-wise linear UPOS probes of the pretrained model (one per study), and
of each random-weights control (``controls.random_weights``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crossling.data.specs import DataFolders, resolve_spec
from crossling.experiments.cell import Cell, CellParams, Grid, Outcome
from crossling.experiments.config import Study
from crossling.experiments.kinds.common import (
    control_identity,
    control_label,
    frozen_model,
    precision_identity,
    resolve_frozen,
    with_control,
)

KIND = "probe"


@dataclass(frozen=True)
class Params(CellParams):
    model: str
    ud: str
    source: str
    targets: list[str]
    layers: list[int] | None
    max_train_sentences: int | None
    max_eval_sentences: int | None
    n_boot: int
    seed: int
    train: str
    """The probe's training file (``train_spec`` resolved)."""
    train_spec: str
    allow_test_training: bool = False
    """Permits, does not change the result: not in the key."""
    precision: str = "fp32"
    """The resolved precision of the frozen passes (in the key unless fp32)."""
    random_weights: int | None = None
    """The init seed of the random-weights control probed instead of the pretrained model;
    None: the pretrained model (in the key only when set)."""

    def identity(self) -> dict[str, Any]:
        return {"source": self.source, "targets": self.targets, "layers": self.layers,
                "max_train_sentences": self.max_train_sentences,
                "max_eval_sentences": self.max_eval_sentences, "n_boot": self.n_boot,
                "seed": self.seed, **precision_identity(self.precision),
                **control_identity(self.random_weights)}

    def to_dict(self) -> dict[str, Any]:
        out = {**self.identity(), "model": self.model, "ud": self.ud, "train": self.train,
               "train_spec": self.train_spec}
        if self.allow_test_training:
            out["allow_test_training"] = True
        return out

    def label(self) -> str:
        return f"probe ({control_label(self.random_weights)}, {len(self.targets)} targets)"

    def cost(self) -> float:
        """One frozen forward pass per sentence; the probes themselves are cheap."""
        return (self.max_train_sentences or 12_000) + \
            (self.max_eval_sentences or 1000) * (len(self.targets) + 1)


def expand(study: Study, grid: Grid) -> list[Cell]:
    spec = study.probe
    if spec is None:
        return []
    folders = DataFolders(grid.ud, None)
    train = resolve_spec("pos", spec.train, "train", folders)
    tests = {lang: resolve_spec("pos", lang, "test", folders)
             for lang in [study.source, *spec.targets]}
    params = Params(model=study.model, ud=study.ud, source=study.source, targets=spec.targets,
                    layers=spec.layers, max_train_sentences=spec.max_train_sentences,
                    max_eval_sentences=spec.max_eval_sentences, n_boot=spec.n_boot,
                    seed=spec.seed, train=str(train), train_spec=spec.train,
                    allow_test_training=study.allow_test_training,
                    precision=resolve_frozen(spec.precision))
    return [Cell(grid.key(KIND, p, {"train": train, "test": tests}), KIND, p) for p in
            [params, *(replace(params, random_weights=k) for k in study.random_weights)]]


def run(params: Params, workdir: Path) -> Outcome:
    """Layer-wise UPOS probes of the pretrained model or a random-weights control; the word
    vectors are cached in the cell's folder, so a retried cell does not extract them again."""
    from crossling.probing.settings import ProbeSettings
    from crossling.workflows.probe import probe

    settings = ProbeSettings(
        source_train=params.train, source=params.source, targets=tuple(params.targets),
        layers=None if params.layers is None else tuple(params.layers),
        max_train_sentences=params.max_train_sentences,
        max_eval_sentences=params.max_eval_sentences, n_boot=params.n_boot,
        seed=params.seed, allow_test_training=params.allow_test_training,
        precision=params.precision)
    model = frozen_model(params.model, params.random_weights)
    rows = with_control(probe(model, params.ud, settings, cache_dir=workdir / "cache",
                              progress=False), model)
    return rows, rows[0].provenance if rows else {}
