"""The simulated Pi LAN: what `picf sim up` builds and remembers (pydantic models only, no I/O)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from picf.models.node import Arch, NodeName


class SimNode(BaseModel):
    """One simulated Raspberry Pi: its identity on the LAN and the board it pretends to be."""

    model_config = ConfigDict(extra="forbid")

    name: NodeName
    index: int = Field(ge=1, le=200)
    address: str
    mac: str
    board: str = Field(description="short board name, e.g. 3b+ or 4b")
    model: str = Field(description="device-tree model string")
    compatible: str
    revision_code: str
    arch: Arch = Field(description="userland architecture")
    uname_m: str = Field(description="what `uname -m` prints (the kernel's architecture)")
    memory_mb: int
    netns: str
    veth: str = Field(description="host side of the node's cable, enslaved to the bridge")
    host_key: str | None = Field(default=None, description="SHA256 fingerprint of the node's ed25519 host key")
    keeper_pid: int | None = Field(default=None, description="host pid of the node's PID 1")
    faults: list[str] = Field(default_factory=list, description="faults injected and not undone")


class SimLan(BaseModel):
    """A running (or half-built) simulated LAN."""

    model_config = ConfigDict(extra="forbid")

    bridge: str
    subnet: str
    bridge_address: str
    directory: str
    controller_key: str
    known_hosts: str
    nodes: list[SimNode] = Field(default_factory=list)

    def node(self, name: str) -> SimNode | None:
        """The node called `name`, if it is part of this LAN."""
        return next((n for n in self.nodes if n.name == name), None)
