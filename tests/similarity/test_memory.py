"""The memory estimate: its arithmetic follows the shapes, and a run that may not fit says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from crossling.models.encoder import load_encoder
from crossling.similarity import memory
from crossling.similarity.memory import (
    MemoryEstimate,
    bytes_per_element,
    estimate_for,
    memory_problem,
    report_memory,
    size,
)


def test_bytes_per_element_of_dtypes_and_their_names() -> None:
    assert bytes_per_element(torch.float32) == bytes_per_element("fp32") == 4
    assert bytes_per_element(torch.bfloat16) == bytes_per_element("bf16") == 2
    assert bytes_per_element("torch.float16") == bytes_per_element("float16") == 2
    with pytest.raises(ValueError, match="int3"):
        bytes_per_element("int3")


def test_sizes_are_decimal() -> None:
    assert size(13_476_831_232) == "13.5 GB"
    assert size(2_500_000) == "2.5 MB" and size(999) == "999 B"


def test_the_estimate_of_a_tiny_model_follows_from_its_shapes(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")  # 4 blocks, hidden 32, float32
    params = sum(p.numel() for p in enc.model.parameters())
    full = estimate_for(enc.model, 5, (3, 20, "sentences", 4), None, 100)
    assert full.weights == params * 4
    assert full.vectors == 3 * 20 * 5 * 32 * 4
    assert full.activations == 100 * 32 * 5 * 4
    assert "3 x 20 sentences x 5 layers x 32 x 4 B" in full.line()
    assert f"weights {size(params * 4)} (fp32)" in full.line()
    some = estimate_for(enc.model, 5, (3, 20, "sentences", 2), [2, 1], 100)
    assert some.vectors == 3 * 20 * 2 * 32 * 2
    assert some.activations == 100 * 32 * 3 * 4  # blocks 1-2 run: 3 states alive
    for layers, alive in (([0], 2), ([4], 5), ([3], 4)):
        est = estimate_for(enc.model, 5, (1, 1, "words", 2), layers, 1)
        assert est.states_alive == alive
    half = estimate_for(enc.model.to(torch.bfloat16), 5, (1, 1, "words", 2), None, 10)
    assert half.weights == params * 2 and "(bf16)" in half.line()


def _estimate(rows: int) -> MemoryEstimate:
    return MemoryEstimate(params=10, weight_dtype="float32", sets=1, rows=rows,
                          unit="sentences", layers=1, hidden=1, vector_bytes=4,
                          batch_tokens=1000, states_alive=1)


def test_what_may_not_fit_is_named_with_a_hint() -> None:
    est = _estimate(1000)  # vectors 4 kB, activations 4 kB
    assert memory_problem(est, torch.device("cpu"), 10_000, 10_000) is None
    cpu = memory_problem(est, torch.device("cpu"), 6000, 6000)
    assert cpu is not None and "vectors and activations (~8 kB)" in cpu and "--layers" in cpu
    gpu = memory_problem(est, torch.device("cuda"), 10_000, 3000)
    assert gpu is not None and "activations on cuda (~4 kB)" in gpu and "3 kB free" in gpu
    assert "--precision bf16" in gpu and "\n" not in gpu
    host = memory_problem(est, torch.device("cuda"), 3000, None)
    assert host is not None and "the vectors (~4 kB)" in host
    assert memory_problem(est, torch.device("cpu"), None, None) is None  # unknown: no claim


def test_report_logs_the_line_and_warns_when_it_may_not_fit(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    est = _estimate(1000)
    with caplog.at_level(logging.INFO, logger="crossling.similarity.memory"):
        report_memory(est, torch.device("cpu"))
    assert [r.getMessage() for r in caplog.records] == [est.line()]
    caplog.clear()
    monkeypatch.setattr(memory, "available_memory", lambda: 5000)
    with caplog.at_level(logging.INFO, logger="crossling.similarity.memory"):
        report_memory(est, torch.device("cpu"))
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.WARNING]
