"""ONNX Runtime as a forward-pass candidate for evaluation and similarity extraction (issue 10).

Exports multilingual-e5-small to ONNX (``torch.onnx.export``, dynamic batch and sequence axes)
with **all 13 hidden states** as outputs -- what similarity extraction pools; evaluation needs
only the last one, which is among them -- and times, on the same real PUD sentences cut into the
same length-bucketed batches as crossling's evaluation (``bucket_batches(..., eval_batch_size,
shuffle=False)`` over ``encode_words``), two forward passes:

- torch: the current path (``torch.inference_mode``, fp32, transformers' default SDPA attention);
- onnxruntime: ``CPUExecutionProvider``, fp32, all graph optimisations, ``intra_op_num_threads``
  equal to torch's thread count;
- the same graph after ORT's offline BERT fusions (``onnxruntime.transformers.optimizer``, fp32,
  CPU). They fuse attention only in the TorchScript exporter's graph of the eager-attention model
  (``--exporter torchscript --export-attention eager``), not in the default dynamo/SDPA graph.

Only the forward is timed (tokenising and batching are done once, outside the clock); the two
candidates run interleaved (torch, ORT, torch, ORT, ...) so that load from other processes hits
both alike. Equality is the largest absolute difference of any hidden state at a real
(non-padding) position; padding positions are reported apart, since no caller reads them.

    python bench/onnx_forward.py --data ../shared/data [--lang de] [--sentences 300] [--repeats 5]

Needs ``onnxruntime``, ``onnx`` and ``onnxscript`` (torch's exporter), none of them a dependency
of crossling.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from crossling.data.batching import bucket_batches
from crossling.data.conllu import read_conllu
from crossling.data.example import examples_from_ud
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import encode_words, load_encoder
from crossling.training.loop import subword_lengths

MODEL = "/root/.cache/crossling/multilingual-e5-small"


class AllHiddenStates(nn.Module):
    """The encoder with its hidden states (embeddings + every layer) as a flat tuple of outputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids, output_hidden_states=True)
        return tuple(out.hidden_states)


def export(model: nn.Module, example: dict[str, torch.Tensor], path: Path, n_states: int,
           exporter: str = "dynamo") -> str:
    """Write the ONNX graph; returns which exporter produced it.

    ``dynamo`` (torch's default) falls back to the TorchScript exporter where it fails;
    ``torchscript`` uses that one directly (ORT's attention fusion knows its graph patterns).
    """
    names = ["input_ids", "attention_mask", "token_type_ids"]
    args = tuple(example[n] for n in names)
    outputs = [f"hidden_state_{i}" for i in range(n_states)]
    wrapped = AllHiddenStates(model).eval()
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence", max=512)
    if exporter == "dynamo":
        try:
            torch.onnx.export(wrapped, args, str(path), input_names=names, output_names=outputs,
                              dynamic_shapes={n: {0: batch, 1: seq} for n in names},
                              dynamo=True, optimize=True, external_data=False)
            return "torch.onnx.export(dynamo=True)"
        except Exception as exc:
            print(f"dynamo export failed ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:200]}); falling back to the TorchScript exporter")
    axes = {n: {0: "batch", 1: "sequence"} for n in names + outputs}
    torch.onnx.export(wrapped, args, str(path), input_names=names, output_names=outputs,
                      dynamic_axes=axes, dynamo=False, opset_version=17)
    return "torch.onnx.export(dynamo=False)"


def fuse(path: Path, out: Path, config: object, opts: object) -> tuple[object | None, str]:
    """ORT's offline BERT fusions (Attention, SkipLayerNorm, BiasGelu; fp32, CPU) of ``path``.

    Returns the session (or None where the optimiser fails) and a note of what was fused.
    """
    import onnxruntime as ort
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        model = optimize_model(str(path), model_type="bert", use_gpu=False,
                               num_heads=config.num_attention_heads,  # type: ignore[attr-defined]
                               hidden_size=config.hidden_size)  # type: ignore[attr-defined]
        stats = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
        model.save_model_to_file(str(out))
        session = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        return None, f"failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    return session, ", ".join(f"{k} {v}" for k, v in sorted(stats.items())) or "nothing fused"


def max_diffs(batches: list[dict[str, torch.Tensor]], ref: list[list[np.ndarray]],
              got: list[list[np.ndarray]]) -> tuple[float, float]:
    """Largest |difference| of any hidden state at real tokens, and at padding positions."""
    real = pad = 0.0
    for b, r, g in zip(batches, ref, got, strict=True):
        mask = b["attention_mask"].numpy().astype(bool)
        for h_ref, h_got in zip(r, g, strict=True):
            d = np.abs(h_ref - h_got)
            real = max(real, float(d[mask].max()))
            if (~mask).any():
                pad = max(pad, float(d[~mask].max()))
    return real, pad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="UD folder (or its parent) holding the PUDs")
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--lang", default="de")
    ap.add_argument("--sentences", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64, help="evaluation batch size (crossling: 64)")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per candidate")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo")
    ap.add_argument("--export-attention", choices=("sdpa", "eager"), default="sdpa",
                    help="attention implementation of the exported graph (ORT fuses eager's)")
    ap.add_argument("--no-fusions", dest="fusions", action="store_false",
                    help="skip the third candidate, ORT's offline BERT fusions")
    args = ap.parse_args()

    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    enc = load_encoder(args.model, device="cpu")
    ud = Path(args.data) / "ud" if (Path(args.data) / "ud").is_dir() else Path(args.data)
    sentences = read_conllu(resolve_ud(ud, args.lang))[:args.sentences]
    examples = examples_from_ud(sentences, "pos")
    lengths = subword_lengths(enc.tokenizer, examples, args.max_length)
    batches = []
    for idx in bucket_batches(lengths, args.batch, seed=0, shuffle=False):
        inputs = encode_words(enc.tokenizer, [examples[i].words for i in idx],
                              args.max_length).inputs
        inputs.setdefault("token_type_ids", torch.zeros_like(inputs["input_ids"]))
        batches.append(inputs)
    tokens = sum(lengths)
    padded = sum(b["input_ids"].numel() for b in batches)
    n_states = enc.model.config.num_hidden_layers + 1

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        t0 = time.perf_counter()
        exported = enc.model
        if args.export_attention != "sdpa":
            from transformers import AutoModel

            exported = AutoModel.from_pretrained(args.model, add_pooling_layer=False,
                                                 attn_implementation=args.export_attention).eval()
        exporter = export(exported, batches[0], path, n_states, args.exporter)
        exporter += f", {args.export_attention} attention"
        export_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 2**20
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        t0 = time.perf_counter()
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        session_s = time.perf_counter() - t0
        fused_session, fused_note = None, "not tried (--no-fusions)"
        if args.fusions:
            fused_session, fused_note = fuse(path, Path(tmp) / "fused.onnx", enc.model.config,
                                             opts)

    def run_torch() -> list[list[np.ndarray]]:
        with torch.inference_mode():
            return [[h.numpy() for h in enc.model(**b, output_hidden_states=True).hidden_states]
                    for b in batches]

    def run_ort() -> list[list[np.ndarray]]:
        return [session.run(None, {k: v.numpy() for k, v in b.items()}) for b in batches]

    def run_fused() -> list[list[np.ndarray]]:
        assert fused_session is not None
        return [fused_session.run(None, {k: v.numpy() for k, v in b.items()}) for b in batches]

    candidates = {"torch (inference_mode, SDPA)": run_torch, "onnxruntime CPU EP": run_ort}
    if fused_session is not None:
        candidates["onnxruntime + BERT fusions"] = run_fused
    outputs = {name: fn() for name, fn in candidates.items()}  # warm-up, also the outputs
    seconds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.repeats):
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - t0)

    reference = next(iter(outputs.values()))
    diffs = {name: max_diffs(batches, reference, got) for name, got in outputs.items()}

    cpu = platform.processor() or platform.machine()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, {cpu}, {os.cpu_count()} "
          f"CPUs, {args.threads} threads, load average {load}")
    print(f"{args.lang} PUD: {len(examples)} sentences, {len(batches)} length-bucketed batches of "
          f"<= {args.batch}, {tokens} tokens ({padded} with padding), outputs: {n_states} hidden "
          "states")
    print(f"export: {exporter}, {export_s:.1f} s, {size_mb:.0f} MiB; ORT session "
          f"(ORT_ENABLE_ALL): {session_s:.1f} s; BERT fusions: {fused_note}")
    medians = {name: statistics.median(secs) for name, secs in seconds.items()}
    torch_s = next(iter(medians.values()))
    print(f"forward only, {args.repeats} runs each, interleaved; max |diff| = largest absolute "
          "difference of any hidden state vs torch (real tokens / padding)")
    for name, secs in seconds.items():
        real, pad = diffs[name]
        print(f"    {name:28} median {medians[name]:6.2f} s (runs: "
              f"{', '.join(f'{x:.2f}' for x in secs)}), {tokens / medians[name]:5.0f} tokens/s, "
              f"{torch_s / medians[name]:.2f}x vs torch, max |diff| {real:.1e} / {pad:.1e}")


if __name__ == "__main__":
    main()
