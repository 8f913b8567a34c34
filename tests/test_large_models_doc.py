"""docs/large-models.md: every memory line and table row is what `crossling.similarity.memory`
computes for a 7B model (Llama-2-7B / Mistral-7B shapes), so the doc cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from crossling.similarity.extract import BATCH_TOKENS
from crossling.similarity.memory import MemoryEstimate, size

DOC = Path(__file__).resolve().parents[1] / "docs" / "large-models.md"
PARAMS_7B = 6_738_415_616  # Llama-2-7B: 32 blocks, hidden 4096
TRAIN_WORDS = 66_436  # the probe's default 4,000 EWT training sentences (docs/probing.md)

SCENARIOS = {
    "similarity or retrieval, all 33 layers": ("bfloat16", 19, 1000, "sentences", 33, 4, 33),
    "similarity or retrieval, `--layers 8 16 24`": ("bfloat16", 19, 1000, "sentences", 3, 4, 25),
    "probe, all 33 layers": ("bfloat16", 1, TRAIN_WORDS, "words", 33, 2, 33),
    "probe, `--layers 0 8 16 24`": ("bfloat16", 1, TRAIN_WORDS, "words", 4, 2, 25),
    "similarity, all layers, float32 weights": ("float32", 19, 1000, "sentences", 33, 4, 33),
}


def estimates() -> dict[str, MemoryEstimate]:
    return {name: MemoryEstimate(params=PARAMS_7B, weight_dtype=dtype, sets=sets, rows=rows,
                                 unit=unit, layers=layers, hidden=4096, vector_bytes=vb,
                                 batch_tokens=BATCH_TOKENS, states_alive=alive)
            for name, (dtype, sets, rows, unit, layers, vb, alive) in SCENARIOS.items()}


def table() -> list[str]:
    """The doc's table: per scenario, GPU (weights + one batch) and host (vectors) memory."""
    out = ["| run | GPU: weights + activations | host RAM: vectors |", "|---|---|---|"]
    for name, e in estimates().items():
        out.append(f"| {name} | {size(e.weights + e.activations)} | {size(e.vectors)} |")
    return out


def test_the_docs_numbers_are_the_estimate_functions() -> None:
    text = DOC.read_text(encoding="utf-8")
    for line in table():
        assert line in text, line
    for name, e in estimates().items():
        assert e.line() in text, name
    assert f"BATCH_TOKENS = {BATCH_TOKENS}" in text
