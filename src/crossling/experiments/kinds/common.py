"""What the kinds that encode PUD sentences share: their settings and the tuned encoders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from crossling.experiments.cell import CellParams, vector_cache
from crossling.models.naming import model_name
from crossling.results import ScoreRow, SimilarityRow

R = TypeVar("R", SimilarityRow, ScoreRow)


def resolve_frozen(precision: str) -> str:
    """A study's precision resolved for the device its frozen passes load models on."""
    from crossling.core.devices import pick_device
    from crossling.core.precision import resolve_precision

    return resolve_precision(precision, pick_device(None))


def precision_identity(resolved: str) -> dict[str, Any]:
    """The precision's part of a cell key: nothing for fp32 (the keys of cells stored before
    precision was a setting), the name of any other (its results differ)."""
    return {} if resolved == "fp32" else {"precision": resolved}


@dataclass(frozen=True)
class PudParams(CellParams):
    """A cell encoding the source's and ``languages``' parallel PUD sentences with ``model``."""

    model: str
    ud: str
    source: str
    languages: list[str]
    pooling: str
    n: int | None
    n_boot: int
    n_null: int
    precision: str = field(default="fp32", kw_only=True)
    """The resolved precision of the forward passes (`resolve_frozen`)."""

    def pud_identity(self) -> dict[str, Any]:
        return {"source": self.source, "languages": self.languages, "pooling": self.pooling,
                "n": self.n, "n_boot": self.n_boot, "n_null": self.n_null,
                **precision_identity(self.precision)}

    def passes(self, encoders: int = 1) -> float:
        """One forward pass per sentence, language and encoder."""
        return (self.n or 1000) * (len(self.languages) + 1) * encoders


@dataclass(frozen=True)
class MeasuredParams(PudParams):
    """A similarity cell: `PudParams` and the similarity measures."""

    measures: list[str]

    def measured_identity(self) -> dict[str, Any]:
        return {**self.pud_identity(), "measures": self.measures}

    def run_similarity(self, workdir: Path, models: Any,
                       layer_difference: bool = False) -> list[SimilarityRow]:
        """The similarity workflow on the cell's settings (the study validated them; a
        SettingError is named by its study field, ``similarity.<field>``)."""
        from crossling.core.errors import SettingError
        from crossling.core.settings import renamed
        from crossling.similarity.settings import SimilaritySettings
        from crossling.workflows.similarity import run_similarity

        try:
            settings = SimilaritySettings(
                measures=tuple(self.measures), pooling=self.pooling, n=self.n, n_boot=self.n_boot,
                n_null=self.n_null, seed=0, progress=False, layer_difference=layer_difference,
                precision=self.precision)
            return run_similarity(models, self.ud, self.source, targets=self.languages,
                                  settings=settings, cache_dir=vector_cache(workdir))
        except SettingError as exc:
            raise renamed(exc, f"similarity.{exc.name}") from None


def tuned_name(model: str, task: str, seed: int, reinit: str = "REF") -> str:
    """The name a fine-tuned encoder gets in similarity rows: ``<model>+<task>-seed<N>`` for
    REF, ``<model>+<task>-<group>-seed<N>`` for a re-init group (``<model>``: the pretrained
    model's name, `crossling.models.naming.model_name`, never its path)."""
    group = "" if reinit.upper() == "REF" else f"-{reinit}"
    return f"{model_name(model)}+{task}{group}-seed{seed}"


def load_tuned(workdir: Path, cell: str, name: str) -> Any:
    """The encoder fine-tuning cell ``cell`` kept (a sibling of ``workdir``), named ``name``."""
    from crossling.models.encoder import load_encoder

    tuned_dir = workdir.parent / cell / "encoder"
    if not tuned_dir.is_dir():
        raise FileNotFoundError(f"{tuned_dir}: fine-tuned encoder of cell {cell} is missing")
    tuned = load_encoder(str(tuned_dir))
    tuned.name = name
    return tuned


def frozen_model(model: str, random_weights: int | None, device: str | None = None,
                 ) -> Any:
    """What a pretrained pass encodes with: ``model`` itself (a name, loaded by the workflow),
    or with ``random_weights`` the random-weights control of its architecture
    (`crossling.models.random_weights`: its tokenizer, fresh weights of that init seed)."""
    if random_weights is None:
        return model
    from crossling.models.random_weights import random_encoder

    return random_encoder(model, random_weights, device=device)


def with_control(rows: list[R], encoder: Any) -> list[R]:
    """``rows`` with the control's record in their provenance (`CONTROL_KEY`), when
    ``encoder`` is a random-weights control; else ``rows`` as they are."""
    from dataclasses import replace

    from crossling.models.random_weights import CONTROL_KEY, control_record

    record = None if isinstance(encoder, str) else control_record(encoder)
    if record is None:
        return rows
    prov: dict[int, dict[str, Any]] = {}
    out = []
    for row in rows:  # rows of one call share one provenance dict: keep them sharing one
        if id(row.provenance) not in prov:
            prov[id(row.provenance)] = {**row.provenance, CONTROL_KEY: record}
        out.append(replace(row, provenance=prov[id(row.provenance)]))
    return out


def control_identity(random_weights: int | None) -> dict[str, Any]:
    """The control's part of a cell key: nothing for the pretrained model (the keys of cells
    stored before controls existed), the init seed of a random-weights control."""
    return {} if random_weights is None else {"random_weights": random_weights}


def control_label(random_weights: int | None) -> str:
    """``pretrained``, or ``random weights, seed <k>``: a cell's model in its label."""
    return "pretrained" if random_weights is None else f"random weights, seed {random_weights}"
