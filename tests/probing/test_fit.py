"""Probes fitted in lockstep (:func:`crossling.probing.fit.fit_probes`)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from crossling.core.errors import SettingError
from crossling.probing import fit as probe_fit
from crossling.probing.fit import fit_probe, fit_probes


def _data(n: int = 600, d: int = 10, c: int = 4, seed: int = 0,
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, c, (n,), generator=g)
    x = torch.randn(c, d, generator=g)[y] + torch.randn(n, d, generator=g) + 5.0
    noisy = torch.where(torch.rand(n, generator=g) < 0.4, torch.randint(0, c, (n,), generator=g),
                        y)
    return x, y, noisy


def test_lockstep_fits_equal_separate_fits() -> None:
    """Each probe follows its own L-BFGS trajectory: on the iteration budget (as every probe
    of e5 does), weights and loss are those of a separate fit up to the rounding of the wider
    matrix product; run to convergence, the stopping test may fire one iteration apart, at the
    same loss and predictions."""
    x, y, noisy = _data()
    together = fit_probes(x, [y, noisy], 4, max_iter=10)
    for probe, labels in zip(together, (y, noisy), strict=True):
        alone = fit_probe(x, labels, 4, max_iter=10)
        assert probe.iterations == alone.iterations == 10
        assert probe.loss == pytest.approx(alone.loss, rel=1e-5)
        assert torch.allclose(probe.weight, alone.weight, atol=1e-4)
        assert torch.allclose(probe.bias, alone.bias, atol=1e-4)
        assert torch.equal(probe.mean, alone.mean) and torch.equal(probe.scale, alone.scale)
    assert not torch.allclose(together[0].weight, together[1].weight)  # not one shared fit
    converged = fit_probes(x, [y, noisy], 4, max_iter=200)
    for probe, labels in zip(converged, (y, noisy), strict=True):
        alone = fit_probe(x, labels, 4, max_iter=200)
        assert probe.iterations < 200 and abs(probe.iterations - alone.iterations) <= 2
        assert probe.loss == pytest.approx(alone.loss, rel=1e-5)
        assert float((probe.predict(x) == alone.predict(x)).float().mean()) > 0.99


def test_one_pass_serves_every_running_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """While both fits run, an evaluation is one pass for both: fewer passes than the two fits'
    evaluations together, and at least as many as the longer fit's."""
    x, y, noisy = _data(seed=1)
    passes: list[int] = []
    asked: list[int] = []
    real_eval, real_ask = probe_fit._SharedPass._evaluate, probe_fit._SharedPass.ask

    def evaluate(self, ids):  # type: ignore[no-untyped-def]
        passes.append(len(ids))
        return real_eval(self, ids)

    def ask(self, i, weight, bias):  # type: ignore[no-untyped-def]
        asked.append(i)
        return real_ask(self, i, weight, bias)

    monkeypatch.setattr(probe_fit._SharedPass, "_evaluate", evaluate)
    monkeypatch.setattr(probe_fit._SharedPass, "ask", ask)
    fit_probes(x, [y, noisy], 4, max_iter=10)
    assert sum(passes) == len(asked)  # every request answered, once
    assert 2 in passes  # requests shared a pass
    assert max(asked.count(0), asked.count(1)) <= len(passes) < len(asked)


def test_a_failing_pass_raises_in_every_fit() -> None:
    x, y, _ = _data(seed=2)
    bad = y.clone()
    bad[0] = 9  # a label outside the 4 classes: cross_entropy fails inside the shared pass
    with pytest.raises((IndexError, RuntimeError)):
        fit_probes(x, [y, bad], 4, max_iter=5)
    with pytest.raises(ValueError, match="no label vectors"):
        fit_probes(x, [], 4)


@pytest.mark.parametrize("ids", [[0, 1], [1]])
def test_shared_pass_equals_autograd_cross_entropy(ids: list[int]) -> None:
    """The written-out loss and gradients of a pass (softmax minus one-hot, L2 on the weights
    only) equal those autograd gives for ``torch.nn.functional.cross_entropy``, for every
    probe in the pass and for a pass over a subset (a fit that has finished left)."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(300, 7, generator=g) * 3
    labels = [torch.randint(0, 5, (300,), generator=g) for _ in range(2)]
    shared = probe_fit._SharedPass(z, labels, l2=0.3)
    params = {i: (torch.randn(7, 5, generator=g), torch.randn(5, generator=g)) for i in ids}
    shared._asked.update(params)
    for i, (loss, grad_w, grad_b) in zip(ids, shared._evaluate(ids), strict=True):
        w, b = (t.clone().requires_grad_() for t in params[i])
        ref = torch.nn.functional.cross_entropy(z @ w + b, labels[i]) + 0.15 * (w * w).sum()
        ref.backward()
        assert float(loss) == pytest.approx(float(ref.detach()), rel=1e-6)
        assert torch.allclose(grad_w, w.grad, atol=1e-6)  # type: ignore[arg-type]
        assert torch.allclose(grad_b, b.grad, atol=1e-6)  # type: ignore[arg-type]
        assert grad_w.is_contiguous() and grad_b.is_contiguous()


def test_non_finite_or_constant_features_are_refused() -> None:
    """A NaN feature used to give a probe with a NaN loss whose argmax is class 0."""
    from crossling.similarity.checks import VectorError

    x = torch.randn(30, 4)
    y = torch.arange(30) % 3
    bad = x.clone()
    bad[7, 1] = float("nan")
    with pytest.raises(VectorError, match=r"^x: word vectors contain NaN \(non-finite values "
                                          r"in 1 of 30 rows\)$"):
        fit_probe(bad, y, 3, max_iter=5)
    with pytest.raises(VectorError, match=r"^x: word vectors are all the same vector"):
        fit_probes(torch.ones(30, 4), [y, y], 3, max_iter=5)


def test_fit_probe_reads_a_linear_code_and_generalises_to_new_rows() -> None:
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 5, (3000,), generator=gen)
    x = torch.randn(3000, 12, generator=gen) + 10  # unstandardised on purpose:
    x[:, 5:] *= 100  # large irrelevant features beside the small informative ones
    x[:, :5] += 4 * nn.functional.one_hot(y, 5)
    fitted = fit_probe(x[:2000], y[:2000], 5)
    assert (fitted.predict(x[2000:]) == y[2000:]).float().mean() > 0.95
    noise = fit_probe(torch.randn(2000, 12, generator=gen), y[:2000], 5)
    assert (noise.predict(x[2000:]) == y[2000:]).float().mean() < 0.35
    with pytest.raises(SettingError, match="l2"):
        fit_probe(x, y, 5, l2=-1.0)
