"""Roles: what a node must offer to host a part of the Cloud Foundry stack, and which jobs it then runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from picf.models.node import Arch


class Role(BaseModel):
    """A role's requirements (arches, memory, memory cgroup) and the jobs it hosts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    arches: tuple[Arch, ...] = Field(default=("armv6", "armv7", "arm64", "amd64"), min_length=1)
    min_memory_mb: int = Field(default=0, ge=0)
    needs_memory_cgroup: bool = False
    jobs: tuple[str, ...] = ()


# The roles picf ships for the CF stack on Pis. The numbers reflect FACTS.md: garden/runc need the memory
# cgroup and the Go 1.9-era container stack does not build for ARMv6, so a Pi Zero (armv6) cannot be a cell.
BUILTIN_ROLES: dict[str, Role] = {
    "cell": Role(
        description="runs app containers: garden-runc (grootfs, guardian, idmapper, nstar) and a metron agent",
        arches=("armv7", "arm64", "amd64"),
        min_memory_mb=1024,
        needs_memory_cgroup=True,
        jobs=("garden", "metron_agent"),
    ),
    "router": Role(
        description="HTTP routing to apps (gorouter) and a metron agent",
        arches=("armv7", "arm64", "amd64"),
        min_memory_mb=512,
        jobs=("gorouter", "metron_agent"),
    ),
    "api": Role(
        description="the Cloud Controller API and UAA; the heaviest role, best on a Pi 4 or 5",
        arches=("arm64", "amd64"),
        min_memory_mb=2048,
        jobs=("cloud_controller", "uaa", "metron_agent"),
    ),
    "nats": Role(
        description="the NATS message bus; small enough for a Pi Zero",
        arches=("armv6", "armv7", "arm64", "amd64"),
        min_memory_mb=256,
        jobs=("nats",),
    ),
    "doppler": Role(
        description="loggregator's doppler and traffic controller: collects logs and metrics from metron agents",
        arches=("armv7", "arm64", "amd64"),
        min_memory_mb=512,
        jobs=("doppler", "metron_agent"),
    ),
    "database": Role(
        description="PostgreSQL for the Cloud Controller and UAA; wants a Pi with a USB disk",
        arches=("armv7", "arm64", "amd64"),
        min_memory_mb=1024,
        jobs=("postgres",),
    ),
}
