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
    """One (task, re-init group, seed) fine-tuning run, evaluated on every language: its score
    rows, then its relative weight change per block (``weight-change`` similarity rows)."""
    from crossling.data.leakage import check_files_overlap
    from crossling.training.finetune import run_finetune_rows
    from crossling.training.loop import TrainConfig

    check_files_overlap(params["task"], {"train": params["train"], "dev": params["dev"]},
                        params["evals"])  # before the model loads
    save = params.get("save_model", True)
    # a finished run whose encoder was not kept, now read by a later cell: trained again
    redo = save and (workdir / "scores.json").is_file() and not (workdir / "encoder").is_dir()
    scores, changes = run_finetune_rows(
        params["task"], params["model"], params["train"], params["dev"], params["evals"],
        workdir, reinit_group=params["reinit"], reinit_scheme=params["scheme"],
        seed=params["seed"], config=TrainConfig(**params["training"]),
        max_train_sentences=params["max_train_sentences"],
        max_eval_sentences=params["max_eval_sentences"], source=params["source"],
        save_model=save, progress=False, overwrite=redo)
    # the cell's key is its folder's name: weight-change rows name their run like similarity_ft's
    rows: list[SimilarityRow | ScoreRow] = [
        *scores, *(replace(r, finetune_cell=workdir.name) for r in changes)]
    return rows, scores[0].provenance if scores else {}


def tuned_name(model: str, task: str, seed: int, reinit: str = "REF") -> str:
    """The name a fine-tuned encoder gets in similarity rows: ``<model>+<task>-seed<N>`` for
    REF (as always), ``<model>+<task>-<group>-seed<N>`` for a re-init group."""
    group = "" if reinit.upper() == "REF" else f"-{reinit}"
    return f"{model}+{task}{group}-seed{seed}"


def _load_tuned(workdir: Path, cell: str, name: str) -> Any:
    from crossling.models.encoder import load_encoder

    tuned_dir = workdir.parent / cell / "encoder"
    if not tuned_dir.is_dir():
        raise FileNotFoundError(f"{tuned_dir}: fine-tuned encoder of cell {cell} is missing")
    tuned = load_encoder(str(tuned_dir))
    tuned.name = name
    return tuned


def run_similarity_ft_cell(params: dict[str, Any], workdir: Path) -> tuple[Rows, dict[str, Any]]:
    """After fine-tuning: cross-lingual CKA of the fine-tuned encoder, and pretrained vs tuned."""
    from crossling.similarity.service import run_similarity

    group = str(params.get("reinit", "REF"))
    tuned = _load_tuned(workdir, params["finetune"],
                        tuned_name(params["model"], params["task"], params["seed"], group))
    rows = run_similarity(model=tuned, compare_model=params["model"], compare_side="a",
                          **_sim_kwargs(params, workdir))
    # Fine-tuned rows say which fine-tuning they come from (the report groups by task and seed):
    # typed fields, and the same keys in the provenance (what older versions wrote).
    tag = {"task": params["task"], "seed": params["seed"], "finetune_cell": params["finetune"]}
    rows = [replace(r, **tag, reinit=group, provenance={**r.provenance, **tag}) for r in rows]
    return rows, {**rows[0].provenance} if rows else tag


def run_similarity_seeds_cell(params: dict[str, Any], workdir: Path,
                              ) -> tuple[Rows, dict[str, Any]]:
    """Seed vs seed: model-model CKA per layer between two REF models of one task that differ
    only in their fine-tuning seed (rows of kind ``seed-seed``; ``seed`` the first,
    ``compare_seed`` the second). The encoders' vectors come from the shared cache when their
    ``similarity_ft`` cells computed them (the key covers the weights, not the name)."""
    from crossling.similarity.service import run_similarity

    (seed_a, seed_b), (cell_a, cell_b) = params["seeds"], params["finetune"]
    a = _load_tuned(workdir, cell_a, tuned_name(params["model"], params["task"], seed_a))
    b = _load_tuned(workdir, cell_b, tuned_name(params["model"], params["task"], seed_b))
    rows = run_similarity(model=a, compare_model=b, compare_side="b", cross_lingual=False,
                          **_sim_kwargs(params, workdir))
    tag = {"task": params["task"], "seed": seed_a, "finetune_cell": cell_a,
           "compare_seed": seed_b, "reinit": "REF"}
    rows = [replace(r, kind="seed-seed", **tag,
                    provenance={**r.provenance, **tag, "compare_finetune_cell": cell_b})
            for r in rows]
    return rows, {**rows[0].provenance} if rows else tag


def run_retrieval_cell(params: dict[str, Any], workdir: Path) -> tuple[Rows, dict[str, Any]]:
    """Parallel sentence retrieval per layer of the pretrained model (P@1, both directions)."""
    from crossling.retrieval.settings import RetrievalSettings
    from crossling.workflows.retrieval import run_retrieval

    settings = RetrievalSettings(n=params["n"], variants=params["variants"],
                                 pooling=params["pooling"], n_boot=params["n_boot"],
                                 n_null=params["n_null"], seed=0, progress=False)
    rows = run_retrieval(params["model"], params["ud"], params["source"],
                         targets=params["languages"], settings=settings,
                         cache_dir=vector_cache(workdir))
    return rows, rows[0].provenance if rows else {}


def run_probe_cell(params: dict[str, Any], workdir: Path) -> tuple[Rows, dict[str, Any]]:
    """Layer-wise UPOS probes of the pretrained model (the study's ``probe`` section); the
    word vectors are cached in the cell's folder, so a retried cell does not extract again."""
    from crossling.training.probing import probe

    rows = probe(model=params["model"], data=params["ud"], source_train=params["train"],
                 source=params["source"], targets=params["targets"], layers=params["layers"],
                 max_train_sentences=params["max_train_sentences"],
                 max_eval_sentences=params["max_eval_sentences"], n_boot=params["n_boot"],
                 seed=params["seed"], cache_dir=workdir / "cache", progress=False,
                 allow_test_training=params.get("allow_test_training", False))
    return rows, rows[0].provenance if rows else {}


RUNNERS: dict[str, Runner] = {
    "similarity": run_similarity_cell,
    "finetune": run_finetune_cell,
    "similarity_ft": run_similarity_ft_cell,
    "similarity_seeds": run_similarity_seeds_cell,
    "retrieval": run_retrieval_cell,
    "probe": run_probe_cell,
}
