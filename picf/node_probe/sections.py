"""The one format every script picf sends to a node answers in, and its one parser.

An answer is sections: a line `@@picf:NAME [ARG]` starts one, the lines up to the next such line are its body.
Lines a script copies from files a job can write are prefixed with `| `, so no line of theirs can pose as a
section. A probe that must be told apart from an earlier one's leftovers is framed by `@@picf:begin NONCE` and
`@@picf:end NONCE`. Nothing here trusts the node: a parser never raises on a missing or garbled section.
"""

from __future__ import annotations

from picf.models.pi import memory_cgroup_on

MARK = "@@picf:"


class ProbeError(ValueError):
    """The answer is not a probe answer at all (no begin/end markers for this poll)."""


def split_sections(text: str, nonce: str | None = None) -> dict[str, list[str]]:
    """`@@picf:NAME ARG` headers -> {"NAME ARG": lines}. With `nonce`, only what lies between this probe's
    begin and end markers (ProbeError when they are missing); lines before the first header are dropped."""
    lines = text.splitlines()
    if nonce is not None:
        try:
            start = lines.index(f"{MARK}begin {nonce}")
            end = lines.index(f"{MARK}end {nonce}", start)
        except ValueError:
            raise ProbeError("the answer has no complete probe for this poll") from None
        lines = lines[start + 1 : end]
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith(MARK):
            current = sections.setdefault(line[len(MARK) :].strip(), [])
        elif current is not None:
            current.append(line)
    return sections


def quoted(lines: list[str]) -> list[str]:
    """Lines the script prefixed with `| ` (file contents), unprefixed; anything else is dropped."""
    return [line[2:] if line.startswith("| ") else "" for line in lines if line.startswith("|")]


def memory_cgroup(lines: list[str]) -> bool | None:
    """The `cgroup` section (lib.sh's `picf_cgroup`): `v2 cpuset cpu io memory ...` (cgroup v2's controllers)
    wins over `v1 1` (/proc/cgroups' memory row); None when neither says."""
    controllers = next((line[3:] for line in lines if line.startswith("v2 ")), None)
    v1 = next((line[3:].strip() for line in lines if line.startswith("v1 ")), None)
    return memory_cgroup_on(controllers, f"memory 0 0 {v1}" if v1 in ("0", "1") else None)
