"""Diagnosis: evidence (a failing job's log lines, monit's words, a node's vitals) -> cause and fix.

The job signatures are data (signatures.yml) so a new failure mode is one entry; the power and heat warnings
come from the firmware's own bits (FACTS.md section 2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from ruamel.yaml import YAML

from picf.errors import PicfError
from picf.models.health import THROTTLE_TEMP_C, Diagnosis, Vitals
from picf.releases.patch.patching import load_catalog

SIGNATURES_FILE = Path(__file__).parent / "signatures.yml"


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


Regex = Annotated[str, AfterValidator(_regex)]


class FramePatch(BaseModel):
    """A stack frame pattern that names a more precise catalog patch."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    frame: Regex
    patch: str


class Signature(BaseModel):
    """One failure mode: how to recognise it, what it means, what fixes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    cause: str
    match: tuple[Regex, ...] = ()
    all: tuple[Regex, ...] = ()
    arches: tuple[str, ...] = ()
    patch: str | None = None
    patch_by: tuple[FramePatch, ...] = ()
    fix: tuple[str, ...] = ()


class SignatureFile(BaseModel):
    """signatures.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    signatures: tuple[Signature, ...]


class SignatureError(PicfError):
    """signatures.yml does not validate (a bug in picf's data, or a user's own entry)."""


def load_signatures(path: Path = SIGNATURES_FILE) -> tuple[Signature, ...]:
    """The signatures, validated: known patch ids, at least one pattern each, unique ids."""
    try:
        data = SignatureFile.model_validate(YAML(typ="safe").load(path.read_text()))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise SignatureError(f"{path}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from None
    except (OSError, ValueError) as exc:
        raise SignatureError(f"{path}: {exc}".splitlines()[0]) from None
    known = {p.id for p in load_catalog()} | {"align64"}
    ids = [s.id for s in data.signatures]
    if len(set(ids)) != len(ids):
        raise SignatureError(f"{path}: duplicate signature ids")
    for sig in data.signatures:
        if not sig.match and not sig.all:
            raise SignatureError(f"{path}: signature {sig.id} has neither match nor all")
        for patch in (sig.patch, *(p.patch for p in sig.patch_by)):
            if patch is not None and patch not in known:
                raise SignatureError(f"{path}: signature {sig.id} names unknown patch {patch!r}")
    return data.signatures


@cache
def _default_signatures() -> tuple[Signature, ...]:
    return load_signatures()


class _Fill(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _matches(sig: Signature, lines: Sequence[str]) -> str | None:
    """The evidence line when `sig` matches `lines`, else None."""
    evidence: str | None = None
    if sig.match:
        patterns = [re.compile(p) for p in sig.match]
        evidence = next((line for line in lines if any(p.search(line) for p in patterns)), None)
        if evidence is None:
            return None
    for pattern in sig.all:
        regex = re.compile(pattern)
        hit = next((line for line in lines if regex.search(line)), None)
        if hit is None:
            return None
        evidence = evidence or hit
    return evidence


def diagnose_job(
    lines: Sequence[str],
    arch: str | None,
    job: str,
    release: str | None,
    signatures: Sequence[Signature] | None = None,
) -> Diagnosis | None:
    """The first signature matching a job's evidence (its last log lines and monit's words), if any."""
    for sig in signatures if signatures is not None else _default_signatures():
        if sig.arches and arch not in sig.arches:
            continue
        evidence = _matches(sig, lines)
        if evidence is None:
            continue
        patch = sig.patch
        for rule in sig.patch_by:
            if any(re.search(rule.frame, line) for line in lines):
                patch = rule.patch
                break
        fill = _Fill(
            arch=arch or "ARCH",
            job=job,
            release=release or "RELEASE",
            release_name=(release or "RELEASE").split("/")[0],
            patch=patch or "",
        )
        return Diagnosis(
            signature=sig.id,
            cause=sig.cause,
            evidence=evidence.strip()[:300],
            patch=patch,
            fix=tuple(step.format_map(fill) for step in sig.fix),
        )
    return None


def node_warnings(vitals: Vitals) -> tuple[Diagnosis, ...]:
    """Power and heat, from the firmware's throttle bits and the SoC temperature."""
    out: list[Diagnosis] = []
    throttle = vitals.throttle
    if throttle is not None and (throttle.under_voltage or "under-voltage" in throttle.since_boot):
        when = "now" if throttle.under_voltage else "since boot"
        slowed = ", the firmware throttles the CPU" if throttle.under_voltage and throttle.throttled else ""
        out.append(
            Diagnosis(
                signature="under-voltage",
                cause=f"under-voltage {when}{slowed}: the supply sags below about 4.63 V "
                "(jobs crash, SD cards corrupt)",
                evidence=f"throttled={throttle.bits:#x}",
                fix=("use the official 5.1 V supply (3 A for a Pi 4, 2.5 A for a 3B+) and a short, thick cable",),
            )
        )
    hot = vitals.temp_c is not None and vitals.temp_c >= THROTTLE_TEMP_C
    soft_limit = throttle is not None and "soft-limit" in throttle.now
    power_slowed = throttle is not None and throttle.throttled and not throttle.under_voltage  # else the supply
    if hot or soft_limit or power_slowed:
        temp = f"{vitals.temp_c:.1f} C" if vitals.temp_c is not None else "temperature unknown"
        flags = ",".join(f for f in throttle.now if f != "under-voltage") if throttle else ""
        out.append(
            Diagnosis(
                signature="thermal",
                cause=f"thermal throttling ({temp}{', ' + flags if flags else ''}): the SoC slows down from 80 C",
                evidence=f"throttled={throttle.bits:#x}" if throttle else temp,
                fix=("add a heatsink or fan, give the stack air, or move jobs off this node",),
            )
        )
    return tuple(out)
