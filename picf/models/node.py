"""A node of the cluster: one Raspberry Pi (or an x86 host) as the inventory describes it."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from picf.models.pi import PiModel, normalize_mac

# Userland architecture: it decides which compiled packages a node gets (DESIGN.md).
Arch = Literal["armv6", "armv7", "arm64", "amd64"]
ARCHES: tuple[Arch, ...] = ("armv6", "armv7", "arm64", "amd64")

# What `uname -m` / `dpkg --print-architecture` say, mapped to picf's arch names.
_ARCH_ALIASES: dict[str, Arch] = {
    "armv6l": "armv6",
    "armel": "armv6",
    "armv7l": "armv7",
    "armhf": "armv7",
    "aarch64": "arm64",
    "x86_64": "amd64",
}

_HOSTNAME_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$")
_HOST_KEY = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")


def normalize_arch(text: str) -> Arch:
    """Map `armv7l`, `armhf`, `aarch64`, `x86_64` ... to picf's arch names; raise ValueError."""
    key = text.strip().lower()
    for arch in ARCHES:
        if key == arch:
            return arch
    if key in _ARCH_ALIASES:
        return _ARCH_ALIASES[key]
    raise ValueError(f"unknown arch {text!r} (use one of {', '.join(ARCHES)})")


def _check_hostname(name: str) -> str:
    if len(name) > 63 or not _HOSTNAME_LABEL.match(name):
        raise ValueError(
            "must be an RFC 1123 host name: lower-case letters, digits and '-', 1-63 characters, "
            "not starting or ending with '-'"
        )
    return name


def _check_address(address: str) -> str:
    text = address.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if text.endswith(".local"):
        labels = text[: -len(".local")].split(".")
        if all(_HOSTNAME_LABEL.match(label.lower()) for label in labels):
            return text.lower()
    raise ValueError(f"{address!r} is neither an IP address nor an mDNS name like pi-1.local")


def _check_mac(mac: str) -> str:
    return normalize_mac(mac)


def _check_label_key(key: str) -> str:
    if not _LABEL_KEY.match(key):
        raise ValueError(f"label key {key!r}: use lower-case letters, digits, '.', '_', '/', '-'")
    return key


NodeName = Annotated[str, AfterValidator(_check_hostname)]
Address = Annotated[str, AfterValidator(_check_address)]
Mac = Annotated[str, AfterValidator(_check_mac)]


def _check_host_key(key: str) -> str:
    if not _HOST_KEY.match(key):
        raise ValueError("must be a host key fingerprint like SHA256:<43 base64 characters> (ssh-keygen -lf prints it)")
    return key


HostKey = Annotated[str, AfterValidator(_check_host_key)]
LabelKey = Annotated[str, AfterValidator(_check_label_key)]


class Node(BaseModel):
    """One machine of the cluster as the inventory file describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: NodeName
    address: Address
    mac: Mac | None = None
    host_key: HostKey | None = Field(default=None, description="pinned at discovery; checked on every SSH")
    model: PiModel | None = None
    arch: Arch | None = Field(default=None, description="userland architecture")
    memory_mb: int | None = Field(default=None, ge=64, le=1_048_576)
    memory_cgroup: bool | None = Field(default=None, description="memory cgroup enabled (from /proc/cgroups)")
    roles: tuple[str, ...] = ()
    labels: dict[LabelKey, str] = Field(default_factory=dict)

    @field_validator("arch", mode="before")
    @classmethod
    def _arch_alias(cls, value: object) -> object:
        return normalize_arch(value) if isinstance(value, str) else value

    @field_validator("roles", mode="after")
    @classmethod
    def _unique_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for role in roles:
            if role in seen:
                raise ValueError(f"role {role!r} is listed twice")
            seen.add(role)
        return roles

    @property
    def effective_memory_mb(self) -> int | None:
        """Memory as recorded, else as the board's revision code says."""
        if self.memory_mb is not None:
            return self.memory_mb
        return self.model.memory_mb if self.model else None
