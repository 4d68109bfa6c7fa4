"""The ARM patch catalog's data: a patch, its transforms, and what applying it found (models only)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from picf.models.node import Arch


class FixedWhen(BaseModel):
    """A sign in the file that upstream fixed the problem its own way (for these arches)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(description="regular expression searched in the file")
    arches: tuple[Arch, ...] | None = Field(default=None, description="only for these arches; all when absent")


class _Transform(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="path inside the component's repository")
    moved_to: tuple[str, ...] = Field(
        default=(), description="where later upstream versions keep this file, tried in order when `file` is absent"
    )
    fixed_when: tuple[FixedWhen, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path this transform's file has had upstream, the catalog's first."""
        return (self.file, *self.moved_to)


class Replace(_Transform):
    """Replace anchored text (whitespace-tolerant) that must occur exactly `count` times."""

    kind: Literal["replace"]
    anchor: str
    replacement: str
    count: int = Field(default=1, ge=1)


class Append(_Transform):
    """Append a block (a helper the other transforms call) at the end of the file."""

    kind: Literal["append"]
    text: str


class Align64(_Transform):
    """Move the struct fields that sync/atomic touches with 64-bit operations to the top of their struct."""

    kind: Literal["align64"]
    structs: tuple[str, ...] = Field(min_length=1, description="structs this patch is known to fix")


class SyscallNumber(_Transform):
    """Replace a hard-coded x86_64 syscall number in C with per-arch numbers, `SYS_<name>` first."""

    kind: Literal["syscall-number"]
    macro: str
    syscall: str
    numbers: dict[str, int] = Field(description="compiler arch macro (e.g. __arm__) -> number")
    x86_64: int = Field(description="the number the file hard-codes")


class SeccompArch(_Transform):
    """Add ARM architectures and ARM-only syscalls to a Go seccomp profile; never switch it off."""

    kind: Literal["seccomp-arch"]
    add_arches: tuple[str, ...]
    add_syscalls: tuple[str, ...]
    allow_group_with: str = Field(default="read", description="a syscall of the allow list to add the names to")


Transform = Annotated[Replace | Append | Align64 | SyscallNumber | SeccompArch, Field(discriminator="kind")]


class FixedUpstream(BaseModel):
    """Where upstream fixed it (or only partly)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    commit: str
    date: str
    release: str | None = None
    arches: tuple[Arch, ...] | None = Field(default=None, description="fixed only for these arches")
    note: str = ""


class Patch(BaseModel):
    """One ARM fix from FACTS.md section 1, as data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")
    title: str
    component: str = Field(description="repository name: grootfs, guardian, idmapper, go-diodes, loggregator")
    repo: str = Field(description="upstream owner/name")
    why: str
    needed_in: str = Field(description="which upstream versions have the problem")
    fixed_upstream: FixedUpstream | None = None
    arches: tuple[Arch, ...] = Field(min_length=1)
    transforms: tuple[Transform, ...] = Field(min_length=1)

    @property
    def files(self) -> tuple[str, ...]:
        """The files the patch touches (under every path they have had upstream), in order, once each."""
        return tuple(dict.fromkeys(p for t in self.transforms for p in t.paths))


Status = Literal["applied", "already-applied", "fixed-upstream", "not-needed", "anchor-missing"]


class PatchResult(BaseModel):
    """What happened (or, with --check, would happen) to one patch in one checkout."""

    model_config = ConfigDict(extra="forbid")

    patch: str
    root: str = Field(description="the component's directory inside SRC")
    status: Status
    files: list[str] = Field(default_factory=list, description="files changed (or that would change)")
    detail: str = ""
    diff: str = ""
