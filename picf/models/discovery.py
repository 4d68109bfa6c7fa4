"""What discovery found, and what it proposes to change in the inventory (pydantic models only)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from picf.models.node import Arch
from picf.models.pi import PiModel


class Candidate(BaseModel):
    """One host that answered on mDNS, identified as far as picf could."""

    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(description="advertised host name, cleaned for display")
    name: str | None = Field(default=None, description="node name derived from the host name (RFC 1123)")
    address: str | None = None
    mac: str | None = None
    services: list[str] = Field(default_factory=list)
    is_pi: bool = False
    pi_evidence: Literal["mac", "model", "mac+model"] | None = None
    model: PiModel | None = None
    arch: Arch | None = None
    memory_mb: int | None = None
    memory_cgroup: bool | None = None
    os: str | None = None
    self_name: str | None = Field(default=None, description="the host name the machine reports over SSH")
    host_key: str | None = None
    probed: bool = False
    probe_error: str | None = Field(default=None, description="why the SSH probe did not run or failed")
    conflict: str | None = Field(default=None, description="a pinned identity this host contradicts")
    notes: list[str] = Field(default_factory=list)


Outcome = Literal["add", "update", "unchanged", "conflict", "skip"]


class MergeAction(BaseModel):
    """What `discover --write` does with one candidate."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    hostname: str
    node: str | None = Field(default=None, description="inventory node it matched or becomes")
    matched_by: Literal["host_key", "mac", "name"] | None = None
    changes: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
