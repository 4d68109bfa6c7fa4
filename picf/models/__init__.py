"""pydantic models only: the data that crosses picf's arrows. No I/O here."""

from picf.models.cluster import Cluster, SshDefaults, check_cluster
from picf.models.node import ARCHES, Arch, Node, normalize_arch
from picf.models.pi import PiModel, is_pi_mac, normalize_mac, parse_model_string, parse_revision_code
from picf.models.problem import Problem
from picf.models.role import BUILTIN_ROLES, Role

__all__ = [
    "ARCHES",
    "BUILTIN_ROLES",
    "Arch",
    "Cluster",
    "Node",
    "PiModel",
    "Problem",
    "Role",
    "SshDefaults",
    "check_cluster",
    "is_pi_mac",
    "normalize_arch",
    "normalize_mac",
    "parse_model_string",
    "parse_revision_code",
]
