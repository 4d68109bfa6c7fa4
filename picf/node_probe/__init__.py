"""What picf asks a node, in one place: the scripts it sends (files here), the section format they answer in,
and its parser. Purpose-specific readings (health vitals, a node's deploy state, a host's identity) build on
`split_sections` in their own packages."""

from picf.node_probe.scripts import script
from picf.node_probe.sections import MARK, ProbeError, memory_cgroup, quoted, split_sections

__all__ = ["MARK", "ProbeError", "memory_cgroup", "quoted", "script", "split_sections"]
