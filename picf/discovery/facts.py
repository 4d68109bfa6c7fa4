"""What a host says about itself: the identify probe's answer (picf/node_probe/identify.sh) read into facts.

The facts are what FACTS.md says to trust on a Pi: the device-tree model, the cpuinfo revision code, the userland
architecture (dpkg's, else the word size; not `uname -m`), memory, the memory cgroup, the OS release.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from picf.models.node import Arch, normalize_arch
from picf.models.pi import PiModel, PiModelError, parse_model_string, parse_revision_code
from picf.node_probe import memory_cgroup, script, split_sections

PROBE_COMMAND = script("identify")

_MAX_VALUE = 200


class ProbeResult(BaseModel):
    """What a node said about itself."""

    model_config = ConfigDict(frozen=True)

    model_string: str | None = None
    model: PiModel | None = None
    revision_code: str | None = None
    arch: Arch | None = None
    uname_m: str | None = None
    memory_mb: int | None = None
    memory_cgroup: bool | None = None
    os: str | None = None
    hostname: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def is_pi(self) -> bool:
        """True when the device tree or the revision code names a Raspberry Pi."""
        return self.model is not None


def _clean(value: str) -> str:
    return "".join(ch for ch in value if ch.isprintable())[:_MAX_VALUE].strip()


def _userland_arch(dpkg_arch: str, long_bit: str, uname_m: str) -> Arch | None:
    """dpkg says it best; else the word size decides between the 32- and 64-bit ARM userlands."""
    if dpkg_arch:
        try:
            arch = normalize_arch(dpkg_arch)
        except ValueError:
            arch = None
        if arch == "armv7" and uname_m.startswith("armv6"):
            return "armv6"  # Raspbian's armhf on an ARMv6 CPU (Pi Zero/1)
        if arch is not None:
            return arch
    if uname_m:
        try:
            arch = normalize_arch(uname_m)
        except ValueError:
            return None
        if arch == "arm64" and long_bit == "32":
            return "armv7"
        return arch
    return None


def parse_probe(text: str) -> ProbeResult:
    """Parse the probe's output; garbage and truncation give a result with fewer facts, never an exception."""
    sections = split_sections(text)
    values = {name: _clean(lines[0]) for name, lines in sections.items() if lines}
    problems: list[str] = []
    revision = values.get("revision", "").lower() or None
    from_revision: PiModel | None = None
    if revision:
        try:
            from_revision = parse_revision_code(revision)
        except PiModelError as exc:
            problems.append(str(exc))
            revision = None
    model_string = values.get("model") or None
    model: PiModel | None = None
    if model_string and model_string.startswith("Raspberry Pi"):
        try:
            model = parse_model_string(model_string)
        except ValueError as exc:
            problems.append(str(exc))
        if model is not None and from_revision is not None:
            # The device tree names the board exactly; the revision code adds the memory.
            model = model.model_copy(
                update={"memory_mb": from_revision.memory_mb, "revision_code": from_revision.revision_code}
            )
    elif model_string is None:
        model = from_revision  # no device-tree model (an old kernel): the revision code alone says Pi
    # else: another board; other ARM boards print a Revision line too, so it proves nothing.
    memory_mb: int | None = model.memory_mb if model else None
    mem_kb = values.get("mem_total_kb", "")
    if memory_mb is None and mem_kb.isdigit() and int(mem_kb) > 0:
        memory_mb = max(64, int(mem_kb) // 1024)
    return ProbeResult(
        model_string=model_string,
        model=model,
        revision_code=revision,
        arch=_userland_arch(values.get("dpkg_arch", ""), values.get("long_bit", ""), values.get("uname_m", "")),
        uname_m=values.get("uname_m") or None,
        memory_mb=memory_mb,
        memory_cgroup=memory_cgroup(sections.get("cgroup", [])),
        os=values.get("os") or None,
        hostname=values.get("hostname") or None,
        problems=tuple(problems),
    )
