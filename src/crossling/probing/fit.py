"""Fitting linear softmax probes: one, or several on the same features in lockstep.

A probe is multinomial logistic regression on standardised word vectors, fitted full-batch with
L-BFGS from zeros (`fit_probe`). Every layer fits two on the same matrix (the UPOS tagger and
the control-task probe), and a skinny matrix product costs little more with twice the columns;
so `fit_probes` runs one L-BFGS per label vector, each in its own thread, and evaluates all
their objectives in one pass (`_SharedPass`). Each optimiser sees only its own loss and
gradient: the probes are those of separate fits, up to float rounding (docs/probing.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from crossling.core.settings import count, number
from crossling.similarity.checks import check_vectors

DEFAULT_L2 = 1e-4
"""L2 penalty of the probe, ``l2 / 2 * ||W||^2`` added to the mean cross-entropy (bias
unpenalised): fixed, not tuned, recorded in every row's provenance."""

DEFAULT_MAX_ITER = 100
"""L-BFGS iterations per probe (each with a strong Wolfe line search)."""


@dataclass(frozen=True)
class LinearProbe:
    """A fitted softmax probe: ``argmax(((x - mean) / scale) @ weight + bias)``."""

    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor
    loss: float
    """Final training objective (mean cross-entropy + L2 term)."""
    iterations: int = 0
    """L-BFGS iterations run (``max_iter`` when it stopped on the budget)."""

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.weight.device, torch.float32)
        return ((x - self.mean) / self.scale) @ self.weight + self.bias

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class index of every row of ``x`` (on the CPU)."""
        with torch.no_grad():
            return self.logits(x).argmax(dim=1).cpu()


Answer = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""(loss, weight gradient, bias gradient) of one probe's objective."""


class _SharedPass:
    """The objectives of several probes on the same standardised features ``z``, evaluated
    together once every fit still running has asked (one matrix product over ``z`` for all).

    Fits call `ask` from their own threads and block until the pass that includes them
    has run; a fit that has finished calls `leave`, so the others no longer wait for it.
    """

    def __init__(self, z: torch.Tensor, labels: Sequence[torch.Tensor], l2: float) -> None:
        self.z, self.l2 = z, l2
        self._y = torch.stack(list(labels), 1)  # [n, probes]
        self._minus_one = torch.full((*self._y.shape, 1), -1.0, device=z.device)
        self._cv = threading.Condition()
        self._active = set(range(self._y.shape[1]))
        self._asked: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._answers: dict[int, Answer | BaseException] = {}
        self.passes = 0

    def ask(self, i: int, weight: torch.Tensor, bias: torch.Tensor) -> Answer:
        with self._cv:
            self._asked[i] = (weight.detach(), bias.detach())
            self._run_if_complete()
            self._cv.wait_for(lambda: i in self._answers)
            answer = self._answers.pop(i)
        if isinstance(answer, BaseException):  # the pass failed: every fit in it raises
            raise answer
        return answer

    def leave(self, i: int) -> None:
        with self._cv:
            self._active.discard(i)
            self._run_if_complete()

    def _run_if_complete(self) -> None:
        """One pass for every pending request, once each active fit has one (lock held)."""
        if not self._asked or not self._active <= set(self._asked):
            return
        ids = sorted(self._asked)
        try:
            answers: list[Answer | BaseException] = list(self._evaluate(ids))
        except Exception as exc:  # handed to every waiting fit, which raises it
            answers = [exc] * len(ids)
        self._answers.update(zip(ids, answers, strict=True))
        self._asked.clear()
        self.passes += 1
        self._cv.notify_all()

    def _evaluate(self, ids: list[int]) -> list[Answer]:
        """Loss and gradients of the probes ``ids``, written out instead of autograd (one
        product for the logits, one for the weight gradients; the softmax done in place on the
        logits): ``d/dlogits mean CE = (softmax - onehot) / n``, checked against
        ``torch.nn.functional.cross_entropy`` under autograd in the tests (bench/probe.py
        times both)."""
        w = torch.cat([self._asked[i][0] for i in ids], 1)  # [d, p * k]
        b = torch.cat([self._asked[i][1] for i in ids])
        n, p = self.z.shape[0], len(ids)
        k = w.shape[1] // p
        y = self._y[:, ids, None]  # [n, p, 1]
        logits = torch.nn.functional.linear(self.z, w.T.contiguous(), b).view(n, p, k)
        lse = torch.logsumexp(logits, 2, keepdim=True)
        ce = (lse - logits.gather(2, y)).mean(0).flatten()  # [p]
        g = logits.sub_(lse).exp_()  # the softmax, in place
        g.scatter_add_(2, y, self._minus_one[:, :p])
        g = g.view(n, p * k).div_(n)
        grad_w, grad_b = self.z.T @ g, g.sum(0)
        answers: list[Answer] = []
        for j, i in enumerate(ids):
            wj, cols = self._asked[i][0], slice(j * k, (j + 1) * k)
            answers.append((ce[j] + 0.5 * self.l2 * (wj * wj).sum(),
                            grad_w[:, cols] + self.l2 * wj, grad_b[cols].contiguous()))
        return answers


def _standardise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``z = (x - mean) / scale`` with the rows' mean and std (a constant feature keeps 1)."""
    mean = x.mean(dim=0)
    std = x.std(dim=0)
    scale = torch.where(std > 1e-8, std, torch.ones_like(std))
    return (x - mean) / scale, mean, scale


def _fit_one(i: int, shared: _SharedPass, n_features: int, n_classes: int, max_iter: int,
             device: torch.device, threads: int) -> tuple[torch.Tensor, torch.Tensor, float, int]:
    """L-BFGS from zeros on probe ``i``'s objective, evaluated through ``shared``."""
    torch.set_num_threads(threads)  # a new thread would otherwise take torch's default
    weight = torch.zeros(n_features, n_classes, device=device, requires_grad=True)
    bias = torch.zeros(n_classes, device=device, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-7, tolerance_change=1e-10,
                            line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        loss, grad_w, grad_b = shared.ask(i, weight, bias)
        weight.grad, bias.grad = grad_w, grad_b
        return loss

    try:
        opt.step(objective)
        final = float(objective())
    finally:
        shared.leave(i)
    return weight.detach(), bias.detach(), final, int(opt.state[weight].get("n_iter", 0))


def fit_probes(x: torch.Tensor, labels: Sequence[torch.Tensor], n_classes: int, *,
               l2: float = DEFAULT_L2, max_iter: int = DEFAULT_MAX_ITER,
               device: torch.device | str | None = None) -> list[LinearProbe]:
    """One probe per label vector of ``labels`` (each [n]) on the same rows ``x`` [n, d],
    fitted in lockstep with one shared pass over the features per evaluation (module
    docstring); each result is that of `fit_probe` on its labels, up to float rounding.
    """
    l2 = number(0.0)("l2", l2)
    max_iter = count(1)("max_iter", max_iter)
    if not labels:
        raise ValueError("no label vectors to fit")
    for y in labels:
        if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)}: need [n, d] and [n], "
                             "n > 0")
    check_vectors(x, "x", "word vectors", variance=x.shape[0] > 1)  # NaN: no probe to fit
    dev = torch.device(device) if device is not None else x.device
    z, mean, scale = _standardise(x.to(dev, torch.float32))
    shared = _SharedPass(z, [y.to(dev, torch.long) for y in labels], l2)
    threads = torch.get_num_threads()
    fit: Callable[[int], tuple[torch.Tensor, torch.Tensor, float, int]] = \
        lambda i: _fit_one(i, shared, x.shape[1], n_classes, max_iter, dev, threads)  # noqa: E731
    if len(labels) == 1:
        results = [fit(0)]
    else:
        with ThreadPoolExecutor(len(labels)) as pool:
            results = list(pool.map(fit, range(len(labels))))
    return [LinearProbe(w, b, mean, scale, loss, iters) for w, b, loss, iters in results]


def fit_probe(x: torch.Tensor, y: torch.Tensor, n_classes: int, *, l2: float = DEFAULT_L2,
              max_iter: int = DEFAULT_MAX_ITER, device: torch.device | str | None = None,
              ) -> LinearProbe:
    """Multinomial logistic regression on standardised ``x`` [n, d] for labels ``y`` [n].

    Full-batch L-BFGS from zero weights on ``mean CE + l2 / 2 * ||W||^2``: strictly convex for
    ``l2 > 0``, so the fit has one optimum and needs no seed. Features are standardised with
    the training rows' mean and standard deviation (a constant feature keeps scale 1).
    """
    return fit_probes(x, [y], n_classes, l2=l2, max_iter=max_iter, device=device)[0]
