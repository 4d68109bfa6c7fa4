"""The cluster: SSH defaults, extra roles and nodes, and the rules that tie them together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from picf.models.node import Node, NodeName
from picf.models.problem import Loc, Problem, problems_from
from picf.models.role import BUILTIN_ROLES, Role

# Pass this as validation context to get a Cluster even when cross-node rules fail; `rule_problems()`
# then lists them. Used by the inventory file loader, which reports every problem at once.
DEFER_RULES = "picf_defer_rules"


class SshDefaults(BaseModel):
    """How picf reaches every node unless a node says otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(default="pi", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    private_key: str = Field(default="~/.ssh/id_ed25519", min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    connect_timeout: float = Field(default=5.0, gt=0, le=120)


class Cluster(BaseModel):
    """A named cluster of nodes; names, addresses, MACs and host keys are unique, roles known and met."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: NodeName
    ssh: SshDefaults = SshDefaults()
    roles: dict[NodeName, Role] = Field(default_factory=dict, description="extra or overriding roles")
    nodes: tuple[Node, ...] = ()

    @property
    def all_roles(self) -> dict[str, Role]:
        """Built-in roles, overridden or extended by the file's own `roles:`."""
        return {**BUILTIN_ROLES, **self.roles}

    def node(self, name: str) -> Node | None:
        """The node called `name`, if any."""
        return next((n for n in self.nodes if n.name == name), None)

    def rule_problems(self) -> list[Problem]:
        """Every cross-node rule this cluster breaks (uniqueness, known roles, role requirements)."""
        return node_rule_problems(enumerate(self.nodes), self.all_roles)

    @model_validator(mode="after")
    def _check_rules(self, info: ValidationInfo) -> Cluster:
        if isinstance(info.context, Mapping) and info.context.get(DEFER_RULES):
            return self
        problems = self.rule_problems()
        if problems:
            raise ValueError("; ".join(f"{p.path}: {p.message}" for p in problems))
        return self


def node_rule_problems(nodes: Iterable[tuple[int, Node]], roles: Mapping[str, Role]) -> list[Problem]:
    """Check uniqueness and role requirements over (index, node) pairs; indexes are the file's."""
    problems: list[Problem] = []
    first_seen: dict[tuple[str, str], int] = {}
    for index, node in nodes:
        for field in ("name", "address", "mac", "host_key"):
            value = getattr(node, field)
            if value is None:
                continue
            key = (field, value)
            if key in first_seen:
                other = first_seen[key]
                problems.append(Problem(("nodes", index, field), f"{value} is already used by nodes[{other}]"))
            else:
                first_seen[key] = index
        for r, role_name in enumerate(node.roles):
            loc: Loc = ("nodes", index, "roles", r)
            role = roles.get(role_name)
            if role is None:
                known = ", ".join(sorted(roles))
                problems.append(Problem(loc, f"unknown role {role_name!r} (known: {known})"))
                continue
            problems.extend(Problem(loc, msg) for msg in role_requirement_problems(role_name, role, node))
    return problems


def role_requirement_problems(role_name: str, role: Role, node: Node) -> list[str]:
    """Why `node` cannot host `role` (empty when it can, or when the facts are not known yet)."""
    out: list[str] = []
    if node.arch is not None and node.arch not in role.arches:
        out.append(f"role {role_name!r} needs arch {' or '.join(role.arches)}; {node.name} is {node.arch}")
    if node.model is not None and node.arch is None and not set(node.model.cpu_arches) & set(role.arches):
        out.append(f"role {role_name!r} cannot run on a Raspberry Pi {node.model.short}")
    memory = node.effective_memory_mb
    if memory is not None and memory < role.min_memory_mb:
        out.append(f"role {role_name!r} needs at least {role.min_memory_mb} MB; {node.name} has {memory} MB")
    # A role that needs the memory cgroup is no reason to refuse a node that has it off: `picf deploy` turns
    # it on (cmdline.txt, then a reboot), as it would on any fresh Raspberry Pi OS.
    return out


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model whose field `loc` names (for spelling suggestions)."""
    parents = loc[:-1]
    if not parents:
        return Cluster
    if parents[0] == "nodes" and len(parents) == 2:
        return Node
    if parents == ("ssh",):
        return SshDefaults
    if parents[0] == "roles" and len(parents) == 2:
        return Role
    return None


def validation_problems(error: ValidationError) -> list[Problem]:
    """Pydantic errors of cluster data as Problems, with spelling suggestions for unknown fields."""
    return problems_from(error, _model_at)


def check_cluster(data: Any) -> tuple[Cluster | None, list[Problem]]:
    """Validate raw data; return the cluster (when its structure is valid) and every problem found.

    When some nodes are malformed, the remaining ones are still checked against the cross-node rules, so a
    user sees every problem in one run.
    """
    try:
        cluster = Cluster.model_validate(data, context={DEFER_RULES: True})
    except ValidationError as exc:
        problems = validation_problems(exc)
        return None, problems + _rules_on_valid_nodes(data, problems)
    return cluster, cluster.rule_problems()


def _rules_on_valid_nodes(data: Any, structural: list[Problem]) -> list[Problem]:
    if not isinstance(data, Mapping) or not isinstance(data.get("nodes"), list):
        return []
    broken = {p.loc[1] for p in structural if len(p.loc) > 1 and p.loc[0] == "nodes"}
    valid: list[tuple[int, Node]] = []
    for index, raw in enumerate(data["nodes"]):
        if index in broken:
            continue
        try:
            valid.append((index, Node.model_validate(raw)))
        except ValidationError:
            continue
    roles: dict[str, Role] = dict(BUILTIN_ROLES)
    raw_roles = data.get("roles")
    if isinstance(raw_roles, Mapping):
        for name, raw_role in raw_roles.items():
            try:
                roles[str(name)] = Role.model_validate(raw_role)
            except ValidationError:
                roles[str(name)] = Role()
    return node_rule_problems(valid, roles)
