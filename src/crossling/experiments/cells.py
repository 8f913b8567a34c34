"""What each kind of cell runs: a registry ``kind -> runner(params, workdir) -> (rows, prov)``.

Runners are plain functions of a cell's parameters and a working folder, so that an executor
can run them in this process, in another process or on a Ray worker. Tests register tiny fake
kinds here to exercise the store and executors without training anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from crossling.results import ScoreRow, SimilarityRow

Rows = list[SimilarityRow] | list[ScoreRow] | list[SimilarityRow | ScoreRow]
Runner = Callable[[dict[str, Any], Path], tuple[Rows, dict[str, Any]]]


def vector_cache(workdir: Path) -> Path:
    """The sentence-vector cache shared by a study's cells: ``vectors`` beside the cells'
    working folders. Entries are keyed by content (weights and tokenizer fingerprints, pooling,
    truncation, precision, texts: :func:`crossling.similarity.extract.cache_key`) and written
    atomically, so the ``similarity`` and ``retrieval`` cells of one model encode each language
    once between them (19 PUD languages x 1,000 sentences take minutes on a CPU)."""
    return workdir.parent / "vectors"


def _sim_kwargs(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """The similarity service's settings of a cell (the study validated them)."""
    return {"ud": params["ud"], "source": params["source"], "targets": params["languages"],
            "n": params["n"], "n_option": "similarity.n", "measures": params["measures"],
            "pooling": params["pooling"], "n_boot": params["n_boot"],
            "n_null": params["n_null"], "seed": 0, "cache_dir": vector_cache(workdir),
            "progress": False, "layer_difference": params.get("layer_difference", False)}


def run_similarity_cell(params: dict[str, Any], workdir: Path) -> tuple[Rows, dict[str, Any]]:
    """Cross-lingual CKA of the pretrained model."""
    from crossling.similarity.service import run_similarity

    rows = run_similarity(model=params["model"], **_sim_kwargs(params, workdir))
    return rows, rows[0].provenance if rows else {}


def run_finetune_cell(params: dict[str, Any], workdir: Path) -> tuple[Rows, dict[str, Any]]:
    """One (task, re-init group, seed) fine-tuning run, evaluated on every language."""
    from crossling.training.finetune import run_finetune
    from crossling.training.loop import TrainConfig

    rows = run_finetune(params["task"], params["model"], params["train"], params["dev"],
                        params["evals"], workdir, reinit_group=params["reinit"],
                        reinit_scheme=params["scheme"], seed=params["seed"],
                        config=TrainConfig(**params["training"]),
                        max_train_sentences=params["max_train_sentences"],
                        max_eval_sentences=params["max_eval_sentences"],
                        source=params["source"], save_model=params.get("save_model", True),
                        progress=False)
    return rows, rows[0].provenance if rows else {}


def run_similarity_ft_cell(params: dict[str, Any], workdir: Path) -> tuple[Rows, dict[str, Any]]:
    """After fine-tuning: cross-lingual CKA of the fine-tuned encoder, and pretrained vs tuned."""
    from crossling.models.encoder import load_encoder
    from crossling.similarity.service import run_similarity

    tuned_dir = workdir.parent / params["finetune"] / "encoder"
    if not tuned_dir.is_dir():
        raise FileNotFoundError(f"{tuned_dir}: fine-tuned encoder of cell {params['finetune']} "
                                "is missing")
    tuned = load_encoder(str(tuned_dir))
    tuned.name = f"{params['model']}+{params['task']}-seed{params['seed']}"
    rows = run_similarity(model=tuned, compare_model=params["model"], compare_side="a",
                          **_sim_kwargs(params, workdir))
    # Fine-tuned rows say which fine-tuning they come from (the report groups by task and seed):
    # typed fields, and the same keys in the provenance (what older versions wrote).
    tag = {"task": params["task"], "seed": params["seed"], "finetune_cell": params["finetune"]}
    rows = [replace(r, **tag, provenance={**r.provenance, **tag}) for r in rows]
    return rows, {**rows[0].provenance} if rows else tag


def run_retrieval_cell(params: dict[str, Any], workdir: Path) -> tuple[Rows, dict[str, Any]]:
    """Parallel sentence retrieval per layer of the pretrained model (P@1, both directions)."""
    from crossling.similarity.retrieval import run_retrieval

    rows = run_retrieval(model=params["model"], ud=params["ud"], source=params["source"],
                         targets=params["languages"], n=params["n"], n_option="retrieval.n",
                         variants=params["variants"], pooling=params["pooling"],
                         n_boot=params["n_boot"], n_null=params["n_null"], seed=0,
                         cache_dir=vector_cache(workdir), progress=False)
    return rows, rows[0].provenance if rows else {}


def run_probe_cell(params: dict[str, Any], workdir: Path) -> tuple[Rows, dict[str, Any]]:
    """Layer-wise UPOS probes of the pretrained model (the study's ``probe`` section); the
    word vectors are cached in the cell's folder, so a retried cell does not extract again."""
    from crossling.training.probing import probe

    rows = probe(model=params["model"], data=params["ud"], source_train=params["train"],
                 source=params["source"], targets=params["targets"], layers=params["layers"],
                 max_train_sentences=params["max_train_sentences"],
                 max_eval_sentences=params["max_eval_sentences"], n_boot=params["n_boot"],
                 seed=params["seed"], cache_dir=workdir / "cache", progress=False)
    return rows, rows[0].provenance if rows else {}


RUNNERS: dict[str, Runner] = {
    "similarity": run_similarity_cell,
    "finetune": run_finetune_cell,
    "similarity_ft": run_similarity_ft_cell,
    "retrieval": run_retrieval_cell,
    "probe": run_probe_cell,
}
