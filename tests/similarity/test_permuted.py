"""The permuted-stack cross terms of the nulls (:mod:`crossling.similarity.permuted`)."""

from __future__ import annotations

import pytest
import torch

from crossling.similarity.permuted import PermutedMatrix


def _pair(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, n, generator=g, dtype=torch.float64), torch.randn(
        n, n, generator=g, dtype=torch.float64)
    perms = torch.stack([torch.randperm(n, generator=g) for _ in range(7)])
    return a, b, perms


def _direct(a: torch.Tensor, b: torch.Tensor, perms: torch.Tensor) -> list[float]:
    """``sum_ij A_ij B_pi(i)pi(j)`` written the obvious way, in float64."""
    return [float((a * b[p][:, p]).sum()) for p in perms]


def test_cross_terms_equal_the_permuted_sum() -> None:
    a, b, perms = _pair(30)
    got = PermutedMatrix(a).cross(b, perms)
    assert got.dtype == torch.float64
    assert got.tolist() == pytest.approx(_direct(a, b, perms), abs=1e-3)
    identity = torch.arange(30)[None, :]
    assert float(PermutedMatrix(a).cross(b, identity)[0]) == pytest.approx(
        float((a * b).sum()), abs=1e-3)


def test_the_stack_is_built_once_and_read_for_every_other_side(
        monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, perms = _pair(20, seed=1)
    side = PermutedMatrix(a)
    builds: list[int] = []
    real = PermutedMatrix._build

    def counting(self: PermutedMatrix, p: torch.Tensor) -> torch.Tensor:
        builds.append(p.shape[0])
        return real(self, p)

    monkeypatch.setattr(PermutedMatrix, "_build", counting)
    others = [b, b.T.contiguous(), b * 2]
    got = [side.cross(o, perms) for o in others]
    prefix = side.cross(b, perms[:3])  # a measure capped to the first permutations
    assert builds == [7]
    for o, g in zip(others, got, strict=True):
        assert g.tolist() == pytest.approx(_direct(a, o, perms), abs=1e-3)
    assert prefix.tolist() == pytest.approx(got[0][:3].tolist(), rel=1e-5)
    other_perms = torch.flip(perms, dims=[1])  # other permutations: built anew, not misread
    assert side.cross(b, other_perms).tolist() == pytest.approx(
        _direct(a, b, other_perms), abs=1e-3)
    assert builds == [7, 7]


def test_a_stack_too_large_to_keep_gives_the_same_values_in_chunks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, perms = _pair(16, seed=2)
    monkeypatch.setattr("crossling.similarity.permuted._CHUNK_BYTES", 2 * 16 * 16 * 4)
    small = PermutedMatrix(a, max_bytes=3 * 16 * 16 * 4)  # 3 of 7 permutations would fit
    got = small.cross(b, perms)
    assert got.tolist() == pytest.approx(PermutedMatrix(a).cross(b, perms).tolist(), rel=1e-6)
    assert small.stack._stack is None  # nothing kept


def test_shapes_are_checked() -> None:
    a, b, perms = _pair(10, seed=3)
    with pytest.raises(ValueError, match="square"):
        PermutedMatrix(a[:, :4])
    with pytest.raises(ValueError, match="does not match"):
        PermutedMatrix(a).cross(b[:5, :5], perms)
    with pytest.raises(ValueError, match=r"expected \[P, 10\]"):
        PermutedMatrix(a).cross(b, perms[:, :5])


def test_the_stack_is_built_the_same_with_one_or_two_threads() -> None:
    """The rows are split between threads on the CPU: the same stack, and torch's thread count
    is what it was."""
    a, _, perms = _pair(24, seed=4)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = PermutedMatrix(a)._build(perms)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        one = PermutedMatrix(a)._build(perms)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    s = torch.argsort(perms[3])
    assert torch.equal(two[3].view(24, 24), a.float()[s][:, s])
