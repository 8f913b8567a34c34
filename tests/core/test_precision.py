from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from crossling.core import precision as prec
from crossling.core.errors import SettingError
from crossling.core.precision import (
    cpu_flags,
    cpu_has_bf16,
    precision,
    resolve_precision,
    torch_dtype,
)

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse2 fma avx f16c avx2 {extra}
bogomips\t: 4000
"""


@pytest.mark.parametrize(("given", "short"), [
    ("fp32", "fp32"), ("float32", "fp32"), ("BF16", "bf16"), ("bfloat16", "bf16"),
    ("float16", "fp16"), ("auto", "auto")])
def test_both_spellings_are_one_setting(given: str, short: str) -> None:
    assert precision("precision", given) == short


@pytest.mark.parametrize("bad", ["half", "", None, 16, True])
def test_a_bad_precision_names_the_field_and_the_choices(bad: object) -> None:
    with pytest.raises(SettingError) as info:
        precision("precision", bad)
    assert info.value.name == "precision"
    assert "fp32, bf16, fp16, auto" in info.value.problem and "float32" in info.value.problem


@pytest.mark.parametrize(("extra", "has"), [
    ("", False), ("avx512f avx512bw", False), ("avx512f avx512_bf16", True),
    ("amx_tile amx_bf16", True)])
def test_cpu_bf16_units_are_read_from_cpuinfo(tmp_path: Path, extra: str, has: bool) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO.format(extra=extra))
    flags = cpu_flags(info)
    assert flags is not None and "avx2" in flags
    assert cpu_has_bf16(flags) is has


def test_no_cpuinfo_falls_back_to_torch_s_probe(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert cpu_flags(tmp_path / "absent") is None
    monkeypatch.setattr(prec, "cpu_flags", lambda: None)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert cpu_has_bf16() is True
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert cpu_has_bf16() is False


def test_auto_is_bf16_only_with_native_bf16(monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossling.core.precision")
    monkeypatch.setattr(prec, "_ANNOUNCED", set())
    assert resolve_precision("auto", "cpu", flags={"avx2", "fma"}) == "fp32"
    assert resolve_precision("auto", "cpu", flags={"avx512_bf16"}) == "bf16"
    assert resolve_precision("auto", "cpu", flags={"amx_bf16"}) == "bf16"
    assert resolve_precision("auto", "mps") == "fp32"
    monkeypatch.setattr(prec, "cuda_has_bf16", lambda device: True)
    assert resolve_precision("auto", "cuda") == "bf16"
    monkeypatch.setattr(prec, "cuda_has_bf16", lambda device: False)
    assert resolve_precision("auto", "cuda:0") == "fp32"
    # an explicit choice is kept whatever the hardware; bf16 on this CPU is emulated, slower
    assert resolve_precision("bfloat16", "cpu", flags=set()) == "bf16"
    assert resolve_precision("float32", "cuda") == "fp32"
    said = [r.getMessage() for r in caplog.records]
    assert "precision auto: fp32 on cpu (the CPU has none of avx512_bf16, amx_bf16)" in said
    resolve_precision("auto", "cpu", flags={"avx2"})
    assert len([r for r in caplog.records if "fp32 on cpu" in r.getMessage()]) == 1  # once


def test_this_machine_s_auto_follows_its_flags() -> None:
    flags = cpu_flags()
    native = flags is not None and bool({"avx512_bf16", "amx_bf16"} & flags)
    assert resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")


def test_dtypes() -> None:
    assert torch_dtype("bf16") is torch.bfloat16 and torch_dtype("fp32") is torch.float32
    with pytest.raises(ValueError, match="not resolved"):
        torch_dtype("auto")
