"""What a node runs as picf records it (`/var/vcap/picf/state.json`), and what a plan wants it to run (models only).

One shape for both: a deploy's wanted state is what the node records once its jobs ran (plus `verified`). The
JSON keys are the ones picf has always written, so a node deployed by an earlier picf reads the same; each field
has a default, so a state an earlier picf wrote without a newer key still reads.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DeployedPackage(BaseModel):
    """One compiled package version on a node: `/var/vcap/data/packages/NAME/FINGERPRINT`."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str | None = None
    sha256: str | None = None
    arch: str | None = None


class DeployedJob(BaseModel):
    """One rendered job on a node: its hash (templates, properties, monit stanza) and what it was made of."""

    model_config = ConfigDict(frozen=True)

    hash: str | None = None
    release: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)  # secrets as `<redacted>:HASH`
    packages: list[str] = Field(default_factory=list)
    processes: list[str] = Field(default_factory=list)
    lifecycle: list[str] = Field(default_factory=list)


class DeployState(BaseModel):
    """The packages and jobs a node runs for a deployment; `verified` is False when the last deploy switched the
    node but did not see its jobs run (None in a plan's wanted state)."""

    model_config = ConfigDict(frozen=True)

    deployment: str | None = None
    arch: str | None = None
    packages: dict[str, DeployedPackage] = Field(default_factory=dict)
    jobs: dict[str, DeployedJob] = Field(default_factory=dict)
    monit_interval: int | None = None
    verified: bool | None = None

    def as_json(self) -> dict[str, Any]:
        """The state as state.json holds it (`verified` only when it is known)."""
        return self.model_dump(mode="json", exclude={"verified"} if self.verified is None else set())
