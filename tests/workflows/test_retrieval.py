"""The retrieval workflow: files resolved, model loaded, vectors shared through the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.retrieval.settings import RetrievalSettings
from crossling.workflows.retrieval import run_retrieval


def test_vectors_come_from_the_extraction_cache(fixture_bert: Path, fixture_dir: Path,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A language is encoded once: a second analysis on the same cache (any variants) never
    runs the encoder again."""
    from crossling.similarity import extract as extract_module

    cache = tmp_path / "cache"
    s = RetrievalSettings(n_boot=20, n_null=10, progress=False, device="cpu")
    first = run_retrieval(str(fixture_bert), fixture_dir / "ud", "en", targets=["fr", "de"],
                          settings=s.replace(variants=["cosine"]), cache_dir=cache)

    def no_encoding(*args: object, **kwargs: object) -> torch.Tensor:
        raise AssertionError("re-extracted cached vectors")

    monkeypatch.setattr(extract_module, "extract", no_encoding)
    again = run_retrieval(str(fixture_bert), fixture_dir / "ud", "en", targets=["fr", "de"],
                          settings=s, cache_dir=cache)

    def values(rows: list) -> list[tuple]:  # type: ignore[type-arg]
        return [(r.target, r.layer, r.metric, r.value, r.ci_low, r.ci_high, r.null_high)
                for r in rows if r.metric in {"retrieval_p1_s2t", "retrieval_p1_t2s"}]

    assert values(again) == values(first) and len(first) == 2 * 3 * 2  # 2 layers + embeddings
    assert len(again) == 3 * len(first)
