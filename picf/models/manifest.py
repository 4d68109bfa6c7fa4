"""The deployment manifest (`inventory/deployment.yml`) and what a plan says to change (models only).

name: pi-cloud
releases:
  - {name: logfwd, version: 0.1.0, patched: true}
roles:                                   # BOSH's instance groups; nodes get roles from the inventory
  doppler:
    jobs:
      - name: logsink
        release: logfwd
        provides: {logsink: {as: sink}}  # optional, as in BOSH: rename (as) or withhold (nil) a link
      - name: logfwd
        release: logfwd
        properties:                      # nested, as BOSH reads them
          logfwd: {port: 7070, token: ((logfwd_token))}
        consumes: {logsink: {from: sink}}  # optional: which provider (from), or none (nil)
update: {canaries: 1, max_in_flight: 1, canary_watch_time: 1000-30000, update_watch_time: 1000-30000}
variables:
  - {name: logfwd_token, type: password}
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def parse_watch_time(value: str | int) -> tuple[int, int]:
    """BOSH watch times: `1000-30000` (low-high ms) or a single number (low = high)."""
    if isinstance(value, int):
        return value, value
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(value))
    if not m:
        raise ValueError(f"{value!r}: use milliseconds, as LOW-HIGH (e.g. 5000-30000) or one number")
    low = int(m.group(1))
    high = int(m.group(2) or low)
    if high < low:
        raise ValueError(f"{value!r}: the high end is below the low end")
    return low, high


class Update(BaseModel):
    """BOSH's update block (cf-deployment's defaults: canaries 1, max_in_flight 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    canaries: int = Field(default=1, ge=0, description="canary nodes per architecture (or per board model)")
    canary_per: Literal["arch", "model"] = Field(
        default="arch", description="what each canary stands for: an architecture's build, or a board model"
    )
    max_in_flight: int | str = 1
    canary_watch_time: str | int = "5000-30000"
    update_watch_time: str | int = "5000-30000"
    serial: bool = True

    @field_validator("max_in_flight")
    @classmethod
    def _in_flight(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("max_in_flight must be at least 1")
            return value
        if not re.fullmatch(r"\d{1,3}%", value) or not 0 < int(value[:-1]) <= 100:
            raise ValueError(f"{value!r}: use a number of nodes or a percentage like 50%")
        return value

    @field_validator("canary_watch_time", "update_watch_time")
    @classmethod
    def _watch(cls, value: str | int) -> str | int:
        parse_watch_time(value)
        return value

    def in_flight(self, nodes: int) -> int:
        """max_in_flight as a node count for a group of `nodes` (a percentage rounds up, at least 1)."""
        if isinstance(self.max_in_flight, int):
            return self.max_in_flight
        return max(1, -(-nodes * int(self.max_in_flight[:-1]) // 100))


class ReleaseRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    version: str
    patched: bool = Field(default=False, description="use the build made with --patch")


class JobRef(BaseModel):
    """A job of a release on an instance group (a role), with its properties and links, as in BOSH."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    release: str = Field(pattern=_NAME)
    properties: dict[str, Any] = Field(default_factory=dict, description="nested maps, as BOSH reads them")
    consumes: dict[str, Any] = Field(default_factory=dict, description="link name -> {from: ALIAS} or nil")
    provides: dict[str, Any] = Field(default_factory=dict, description="link name -> {as: ALIAS} or nil")
    preflight: bool = Field(
        default=True,
        description="false: the job needs what an emulated node cannot give (a device, a kernel feature); "
        "the deploy's pre-flight skips it, saying so",
    )


class RoleJobs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    jobs: tuple[JobRef, ...] = ()


class Variable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_][a-z0-9_.-]{0,62}$")
    type: Literal["password", "certificate", "rsa", "ssh"]
    options: dict[str, Any] = Field(default_factory=dict)


class Manifest(BaseModel):
    """What should run where: releases, jobs per role, how to roll out, which credentials to generate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    releases: tuple[ReleaseRef, ...] = Field(min_length=1)
    roles: dict[str, RoleJobs] = Field(default_factory=dict)
    update: Update = Update()
    variables: tuple[Variable, ...] = ()
    monit_interval: int = Field(default=10, ge=1, le=120, description="monit's `set daemon`, in seconds")
    reboot_timeout: int = Field(
        default=300, ge=10, le=3600, description="seconds a node has to come back from a reboot picf asks for"
    )


class JobChange(BaseModel):
    """One job's difference on one node."""

    model_config = ConfigDict(extra="forbid")

    job: str
    action: Literal["add", "update", "remove"]
    lines: list[str] = Field(default_factory=list, description="diff lines, secrets redacted")


class NodePlan(BaseModel):
    """What changes on one node."""

    model_config = ConfigDict(extra="forbid")

    node: str
    packages_added: list[str] = Field(default_factory=list)
    packages_removed: list[str] = Field(default_factory=list)
    jobs: list[JobChange] = Field(default_factory=list)
    first_deploy: bool = False
    reboot: str | None = Field(default=None, description="why the node reboots in this deploy (none: it does not)")

    @property
    def empty(self) -> bool:
        return not (self.packages_added or self.packages_removed or self.jobs or self.reboot)
