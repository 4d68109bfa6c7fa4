"""Raspberry Pi facts: board models, revision codes, MAC vendors (FACTS.md section 2).

Everything here is a pure parser: text in, model out. Discovery and the simulator feed it strings read from
`/proc/device-tree/model`, `/proc/cpuinfo` and mDNS names.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# New-style revision codes (bit 23 set): type = bits 4-11, memory = bits 20-22 (256 MB << n).
_NEW_STYLE_BIT = 1 << 23

# Board type code -> (family, variant) in the words the device-tree model string uses.
BOARD_TYPES: dict[int, tuple[str, str]] = {
    0x00: ("1", "A"),
    0x01: ("1", "B"),
    0x02: ("1", "A+"),
    0x03: ("1", "B+"),
    0x04: ("2", "B"),
    0x06: ("CM1", ""),
    0x08: ("3", "B"),
    0x09: ("Zero", ""),
    0x0A: ("CM3", ""),
    0x0C: ("Zero", "W"),
    0x0D: ("3", "B+"),
    0x0E: ("3", "A+"),
    0x10: ("CM3+", ""),
    0x11: ("4", "B"),
    0x12: ("Zero 2", "W"),
    0x13: ("400", ""),
    0x14: ("CM4", ""),
    0x15: ("CM4S", ""),
    0x17: ("5", "B"),
    0x18: ("CM5", ""),
    0x19: ("500", ""),
    0x1A: ("CM5", "Lite"),
}

# Raspberry Pi Foundation and Raspberry Pi Trading OUIs.
PI_OUIS: frozenset[str] = frozenset({"b8:27:eb", "dc:a6:32", "e4:5f:01", "28:cd:c1", "d8:3a:dd", "2c:cf:67"})

_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")

# "Raspberry Pi 3 Model B Plus Rev 1.3", "Raspberry Pi Zero 2 W Rev 1.0", "Raspberry Pi Compute Module 4 Rev 1.0"
_DT_MODEL_RE = re.compile(
    r"^Raspberry Pi (?P<body>.+?)(?: Rev (?P<rev>[0-9][0-9.]*))?$",
)


class PiModelError(ValueError):
    """A model string or revision code that is not a Raspberry Pi's."""


def normalize_mac(text: str) -> str:
    """Return `aa:bb:cc:dd:ee:ff` for a MAC written with colons, dashes or nothing; raise ValueError."""
    mac = text.strip().lower()
    if not _MAC_RE.match(mac):
        raise ValueError(f"not a MAC address: {text!r} (expected six hex pairs like dc:a6:32:01:02:03)")
    digits = mac.replace(":", "").replace("-", "")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def is_pi_mac(mac: str) -> bool:
    """True when the MAC's vendor prefix belongs to Raspberry Pi (Foundation or Trading)."""
    try:
        return normalize_mac(mac)[:8] in PI_OUIS
    except ValueError:
        return False


def parse_revision_code(code: str | int) -> PiModel:
    """Decode a `/proc/cpuinfo` Revision (new style, bit 23 set), e.g. `a020d3` -> 3B+ with 1024 MB.

    Extra leading bits (`2a020d3`: over-voltage / warranty flags) are masked off.
    """
    if isinstance(code, int):
        value = code
    else:
        text = code.strip().lower().removeprefix("0x")
        if not text or len(text) > 8 or not all(c in "0123456789abcdef" for c in text):
            raise PiModelError(f"not a revision code: {code!r} (expected hex like a020d3)")
        value = int(text, 16)
    if not value & _NEW_STYLE_BIT:
        raise PiModelError(f"old-style revision code {value:#x} (Pi 1 era) is not supported")
    board_type = (value >> 4) & 0xFF
    if board_type not in BOARD_TYPES:
        raise PiModelError(f"unknown board type {board_type:#04x} in revision code {value:#x}")
    family, variant = BOARD_TYPES[board_type]
    memory_mb = 256 << ((value >> 20) & 0x7)
    board_revision = f"1.{value & 0xF}"
    return PiModel(
        family=family,
        variant=variant,
        revision=board_revision,
        memory_mb=memory_mb,
        revision_code=f"{value & 0xFFFFFF:06x}",
    )


def _family_and_variant(body: str) -> tuple[str, str]:
    body = body.replace("Compute Module ", "CM").strip()
    m = re.match(r"^(?P<fam>Zero 2|Zero|CM\d\+?S?|\d+)(?: Model)?(?: (?P<var>.+))?$", body)
    if not m:
        raise PiModelError(f"unrecognised Raspberry Pi model {body!r}")
    variant = (m["var"] or "").replace(" Plus", "+").replace("Plus", "+").strip()
    if variant == "Lite":
        return m["fam"], variant
    return m["fam"], variant


def parse_model_string(text: str) -> PiModel:
    """Parse a device-tree model string (`Raspberry Pi 4 Model B Rev 1.5`, NUL-terminated or not)."""
    clean = text.replace("\x00", "").strip()
    m = _DT_MODEL_RE.match(clean)
    if not m:
        raise PiModelError(f"not a Raspberry Pi model string: {clean[:80]!r}")
    family, variant = _family_and_variant(m["body"])
    return PiModel(family=family, variant=variant, revision=m["rev"])


# Short names people type (`picf sim up --models 3b+,4b`) -> (family, variant).
SHORT_NAMES: dict[str, tuple[str, str]] = {
    "3b": ("3", "B"),
    "3b+": ("3", "B+"),
    "3a+": ("3", "A+"),
    "4b": ("4", "B"),
    "5": ("5", "B"),
    "5b": ("5", "B"),
    "zero": ("Zero", ""),
    "zerow": ("Zero", "W"),
    "zero2w": ("Zero 2", "W"),
    "2b": ("2", "B"),
    "cm4": ("CM4", ""),
}


def parse_short_name(text: str) -> PiModel:
    """Parse a short board name such as `3b+`, `4b` or `zero2w`."""
    key = text.strip().lower().replace(" ", "").replace("-", "")
    if key not in SHORT_NAMES:
        known = ", ".join(sorted(SHORT_NAMES))
        raise PiModelError(f"unknown board {text!r} (known: {known})")
    family, variant = SHORT_NAMES[key]
    return PiModel(family=family, variant=variant)


FAMILIES: frozenset[str] = frozenset(family for family, _ in BOARD_TYPES.values())


class PiModel(BaseModel):
    """A Raspberry Pi board: family (`3`, `4`, `Zero 2`, `CM4`), variant (`B+`, `W`), revision, memory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family: str = Field(min_length=1, max_length=16)
    variant: str = Field(default="", max_length=16)
    revision: str | None = Field(default=None, max_length=8, description="board revision, e.g. 1.3")
    memory_mb: int | None = Field(default=None, ge=256, le=65536)
    revision_code: str | None = Field(default=None, pattern=r"^[0-9a-f]{6}$")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        """Accept a device-tree model string, a revision code or a short name where a mapping is expected."""
        if isinstance(data, str):
            text = data.strip()
            if text.startswith("Raspberry Pi"):
                return parse_model_string(text).model_dump(exclude_none=True)
            if re.fullmatch(r"(0x)?[0-9a-fA-F]{6,8}", text):
                return parse_revision_code(text).model_dump(exclude_none=True)
            return parse_short_name(text).model_dump(exclude_none=True)
        return data

    @field_validator("family")
    @classmethod
    def _known_family(cls, family: str) -> str:
        if family not in FAMILIES:
            raise ValueError(f"unknown Raspberry Pi family {family!r} (known: {', '.join(sorted(FAMILIES))})")
        return family

    @property
    def short(self) -> str:
        """Compact label, e.g. `3B+`, `4B`, `Zero 2 W`."""
        if self.family.startswith(("Zero", "CM")) or not self.variant:
            return f"{self.family} {self.variant}".strip()
        return f"{self.family}{self.variant}"

    @property
    def label(self) -> str:
        """The device-tree model string this board reports, e.g. `Raspberry Pi 3 Model B Plus Rev 1.3`."""
        family = self.family
        if family.startswith("CM"):
            family = "Compute Module " + family[2:]
        if self.family.startswith(("Zero", "CM")) or self.family in {"400", "500"} or not self.variant:
            body = f"{family} {self.variant}".strip()
        else:
            body = f"{family} Model {self.variant.replace('+', ' Plus')}"
        rev = f" Rev {self.revision}" if self.revision else ""
        return f"Raspberry Pi {body}{rev}"

    @property
    def compatible(self) -> str:
        """The board's device-tree `compatible` entry, e.g. `raspberrypi,3-model-b-plus`."""
        fam = self.family.lower().replace(" ", "-")
        if fam.startswith("cm"):
            return f"raspberrypi,{fam[2:]}-compute-module"
        if not self.variant or fam.startswith("zero"):
            suffix = f"-{self.variant.lower()}" if self.variant else ""
            return f"raspberrypi,model-{fam}{suffix}"
        variant = self.variant.lower().replace("+", "-plus")
        return f"raspberrypi,{fam}-model-{variant}"

    @property
    def cpu_arches(self) -> tuple[str, ...]:
        """Userland architectures the board's CPU can run (ARMv6 boards cannot run armv7 binaries)."""
        if self.family in {"1", "Zero", "CM1"}:
            return ("armv6",)
        if self.family == "2" and (self.revision or "1.1") < "1.2":
            return ("armv6", "armv7")
        return ("armv6", "armv7", "arm64")


def memory_cgroup_on(controllers: str | None, proc_cgroups: str | None = None) -> bool | None:
    """Whether the kernel runs the memory controller: cgroup v2's `cgroup.controllers` when there is one
    (what systemd uses on every current Raspberry Pi OS), else /proc/cgroups' memory row (FACTS.md section 5:
    kernel 6.12 has no such row at all). None when neither says."""
    if controllers is not None and controllers.strip():
        return "memory" in controllers.split()
    return memory_cgroup_enabled(proc_cgroups) if proc_cgroups is not None else None


def memory_cgroup_enabled(proc_cgroups: str) -> bool | None:
    """Whether `/proc/cgroups` shows the memory controller enabled (the check FACTS.md recommends over reading
    cmdline.txt); None when the text has no memory line."""
    for line in proc_cgroups.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == "memory":
            return fields[3] == "1"
    return None
