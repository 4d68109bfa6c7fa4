"""The inventory file (`inventory/cluster.yml`): load, validate with file:line:col errors, edit, save safely.

The file belongs to its people as much as to picf: it is re-read on every use, never cached, and picf's edits
keep comments, order, quoting and blank lines, validate before writing, and write atomically under a lock.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from picf import yamldoc
from picf.atomic import locked, write_atomic
from picf.errors import PicfError, UsageError
from picf.models.cluster import Cluster, check_cluster
from picf.yamldoc import LocatedProblem

DEFAULT_INVENTORY = Path("inventory/cluster.yml")  # in a checkout of picf, or any directory laid out like one


def config_inventory() -> Path:
    """The inventory outside a checkout: `$XDG_CONFIG_HOME/picf/cluster.yml` (~/.config/picf/cluster.yml)."""
    return platformdirs.user_config_path("picf") / "cluster.yml"


def find_inventory(cwd: Path | None = None) -> Path:
    """The inventory picf uses when none is named: ./inventory/cluster.yml if it exists, else the one in the
    config dir if that exists; when neither does, where a new one goes (./inventory/ if there is such a
    directory, else the config dir)."""
    local = (cwd or Path.cwd()) / DEFAULT_INVENTORY
    config = config_inventory()
    for candidate in (local, config):
        if candidate.is_file():
            return candidate if candidate is config else DEFAULT_INVENTORY
    return DEFAULT_INVENTORY if local.parent.is_dir() else config


def lookup_note() -> str:
    """Where picf looks for an inventory, for --help and error messages."""
    return f"./{DEFAULT_INVENTORY}, else {config_inventory()}"


# Node fields `picf inventory set` may change, in the order picf writes new nodes.
NODE_FIELD_ORDER = (
    "name",
    "address",
    "mac",
    "host_key",
    "model",
    "arch",
    "memory_mb",
    "memory_cgroup",
    "roles",
    "labels",
)


class InventoryError(PicfError):
    """A problem with the inventory a user must fix; `str()` is the one-line message."""


class InventoryUsageError(UsageError, InventoryError):
    """The command named something that is not there (a missing file, an unknown node)."""


class InventoryInvalid(yamldoc.FileInvalid, InventoryError):
    """The file parses but its data breaks the models' rules; carries every located problem."""

    check_command = "fix them and run `picf inventory validate`"


@dataclass
class Inventory:
    """One read of the inventory file: its text, round-trip document and validated cluster."""

    path: Path
    text: str
    doc: Any
    cluster: Cluster


@dataclass
class EditResult:
    """What an edit did: the diff it wrote (empty when nothing changed)."""

    path: Path
    diff: str
    written: bool
    notes: list[str] = field(default_factory=list)


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InventoryUsageError(
            f"{path}: no such file; pass -i FILE (or set PICF_INVENTORY), or create one with "
            f"`picf discover --write` (picf looks in {lookup_note()})"
        )
    if path.is_dir():
        raise InventoryUsageError(f"{path}: is a directory; pass the inventory file (e.g. {path}/cluster.yml)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return yamldoc.decode(data)
    except yamldoc.YamlProblem as exc:
        raise _located(path, exc) from None


def _located(path: Path, exc: yamldoc.YamlProblem) -> InventoryError:
    where = f"{path}:{exc.line}:{exc.col}" if exc.line else str(path)
    return InventoryError(f"{where}: {exc.message}")


def _parse(path: Path, text: str) -> Any:
    try:
        doc = yamldoc.load(text)
    except yamldoc.YamlProblem as exc:
        raise _located(path, exc) from None
    if doc is None:
        raise InventoryError(f"{path}: empty inventory; it needs at least `name:` and `nodes:` (see README)")
    if not isinstance(doc, CommentedMap):
        raise InventoryError(f"{path}:1:1: the inventory must be a mapping with `name:`, `ssh:` and `nodes:`")
    return doc


def check_text(path: Path, text: str) -> tuple[Any, Cluster | None, list[LocatedProblem]]:
    """Parse and validate inventory text; return the document, the cluster and every located problem."""
    doc = _parse(path, text)
    cluster, problems = check_cluster(yamldoc.to_plain(doc))
    located = yamldoc.locate(str(path), doc, problems)
    return doc, cluster, located


def check_file(path: Path) -> tuple[Cluster | None, list[LocatedProblem]]:
    """Validate the file at `path`: the cluster (when its structure is valid) and every located problem.

    Raises InventoryError when the file cannot be read or is not YAML (those have one position only).
    """
    _, cluster, problems = check_text(path, _read_text(path))
    return cluster, problems


def read_inventory(path: Path = DEFAULT_INVENTORY) -> Inventory:
    """Read and validate the inventory; raise InventoryError (one line) or InventoryInvalid (all problems)."""
    text = _read_text(path)
    doc, cluster, problems = check_text(path, text)
    if problems or cluster is None:
        raise InventoryInvalid(problems)
    return Inventory(path=path, text=text, doc=doc, cluster=cluster)


@dataclass
class Draft:
    """An edit in progress: the round-trip document to change, the original text, notes for the user.

    Most edits change `doc`; an edit that must work on the text itself (removing a node without taking
    its neighbour's comment along) sets `new_text` instead.
    """

    doc: CommentedMap
    text: str
    notes: list[str] = field(default_factory=list)
    new_text: str | None = None


Edit = Callable[[Draft], None]


def edit_inventory(path: Path, edit: Edit, *, dry_run: bool = False, create_from: str | None = None) -> EditResult:
    """Apply `edit` under the file lock; write only a valid result, changing only the lines it must.

    With `create_from`, a missing file starts as that text (it is only written if the result is valid)."""
    with locked(path):
        text = create_from if create_from is not None and not path.exists() else _read_text(path)
        draft = Draft(doc=_parse(path, text), text=text)
        indent = yamldoc.guess_indent(draft.doc, text)
        before = yamldoc.dump(draft.doc, indent)
        edit(draft)
        new_text = draft.new_text
        if new_text is None:
            after = yamldoc.dump(draft.doc, indent)
            new_text = yamldoc.splice_edit(text, before, after)
            if new_text is None or not _same_data(new_text, draft.doc):
                new_text = after
        _, cluster, problems = check_text(path, new_text)
        if problems or cluster is None:
            raise InventoryError(
                f"{path}: edit refused, the result would be invalid: "
                + "; ".join(f"{p.problem.path}: {p.problem.message}" for p in problems)
            )
        diff = "".join(
            difflib.unified_diff(
                text.splitlines(keepends=True), new_text.splitlines(keepends=True), str(path), str(path)
            )
        )
        written = bool(diff) and not dry_run
        if written:
            write_atomic(path, new_text.encode())
        return EditResult(path=path, diff=diff, written=written, notes=draft.notes)


def new_inventory_text(name: str, ssh: Mapping[str, Any]) -> str:
    """The text of a new inventory: a header comment, the cluster name, SSH settings and no nodes yet."""
    doc = CommentedMap()
    doc["name"] = name
    doc["ssh"] = CommentedMap((k, int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in ssh.items())
    header = (
        "# picf inventory: the Raspberry Pis of one cluster. Edit it by hand whenever you like;\n"
        "# picf keeps your comments. Check it with: picf inventory validate\n"
    )
    return header + yamldoc.dump(doc) + "\nnodes:\n"


def _same_data(text: str, doc: Any) -> bool:
    try:
        return bool(yamldoc.to_plain(yamldoc.load(text)) == yamldoc.to_plain(doc))
    except yamldoc.YamlProblem:
        return False


# --- edits: functions of the round-trip document, composed by the CLI and by discovery ---------------


def _nodes(doc: CommentedMap) -> CommentedSeq:
    nodes = doc.get("nodes")
    if nodes is None:
        nodes = CommentedSeq()
        doc["nodes"] = nodes
    if not isinstance(nodes, CommentedSeq):
        raise InventoryError("`nodes:` must be a list of nodes")
    return nodes


def find_node(doc: CommentedMap, name: str) -> CommentedMap:
    """The node mapping called `name`; InventoryUsageError naming the known nodes otherwise."""
    for node in _nodes(doc):
        if isinstance(node, Mapping) and node.get("name") == name:
            assert isinstance(node, CommentedMap)
            return node
    known = ", ".join(str(n.get("name")) for n in _nodes(doc) if isinstance(n, Mapping)) or "none"
    raise InventoryUsageError(f"no node named {name!r} (nodes: {known})")


def _flow_seq(items: Iterable[str]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def add_node(draft: Draft, fields: Mapping[str, Any]) -> None:
    """Append a node with `fields` (name and address at least), keys in picf's usual order."""
    doc = draft.doc
    name = fields["name"]
    for node in _nodes(doc):
        if isinstance(node, Mapping) and node.get("name") == name:
            raise InventoryUsageError(f"a node named {name!r} exists; use `picf inventory set {name} ...`")
    node = CommentedMap()
    for key in NODE_FIELD_ORDER:
        value = fields.get(key)
        if value is None or value == () or value == {}:
            continue
        node[key] = _flow_seq(value) if key == "roles" else value
    if "roles" not in node:
        node["roles"] = _flow_seq([])
    _nodes(doc).append(node)


def parse_scalar(text: str) -> Any:
    """A command-line value as YAML 1.2 reads it: `1024` -> int, `true` -> bool, `''`/`null` -> None."""
    if text.strip() in {"", "null", "~"}:
        return None
    try:
        value = yamldoc.load(text)
    except yamldoc.YamlProblem:
        return text
    return value if isinstance(value, (str, int, float, bool)) else text


def set_node_fields(draft: Draft, name: str, assignments: Mapping[str, Any]) -> None:
    """Set (or, with None, remove) fields of node `name`; `labels.KEY` sets one label."""
    node = find_node(draft.doc, name)
    for key, value in assignments.items():
        if key.startswith("labels."):
            label = key.removeprefix("labels.")
            labels = node.get("labels")
            if labels is None:
                labels = CommentedMap()
                node["labels"] = labels
            if value is None:
                labels.pop(label, None)
            else:
                labels[label] = str(value)
            continue
        if key not in NODE_FIELD_ORDER or key == "roles":
            allowed = ", ".join(k for k in NODE_FIELD_ORDER if k != "roles")
            hint = " (use `picf inventory roles`)" if key == "roles" else ""
            raise InventoryUsageError(f"cannot set {key!r}{hint}; settable: {allowed}, labels.KEY")
        if value is None:
            node.pop(key, None)
        elif key in node:
            node[key] = value
        else:
            _insert_in_order(node, key, value)


def _insert_in_order(node: CommentedMap, key: str, value: Any) -> None:
    order = NODE_FIELD_ORDER.index(key)
    position = len(node)
    for i, existing in enumerate(node):
        if existing in NODE_FIELD_ORDER and NODE_FIELD_ORDER.index(existing) > order:
            position = i
            break
    node.insert(position, key, value)


def change_roles(draft: Draft, name: str, add: Iterable[str], remove: Iterable[str]) -> None:
    """Add and remove roles of node `name`, keeping the list's style; notes say what was already so."""
    node = find_node(draft.doc, name)
    roles = node.get("roles")
    if not isinstance(roles, CommentedSeq):
        roles = _flow_seq([] if roles is None else [str(r) for r in roles] if isinstance(roles, list) else [])
        node["roles"] = roles
    if not roles:
        roles.fa.set_flow_style()  # `roles: []` grows as `roles: [cell]`, not into a block list
    notes = draft.notes
    for role in remove:
        if role in roles:
            roles.remove(role)
        else:
            notes.append(f"{name} did not have role {role!r}")
    for role in add:
        if role in roles:
            notes.append(f"{name} already has role {role!r}")
        else:
            roles.append(role)


def remove_node(draft: Draft, name: str) -> None:
    """Remove node `name`: its lines go, the comments above the next node stay where they are."""
    node = find_node(draft.doc, name)
    nodes = _nodes(draft.doc)
    index = next(i for i, n in enumerate(nodes) if n is node)
    lines = draft.text.splitlines(keepends=True)
    start = nodes.lc.item(index)[0]
    end = nodes.lc.item(index + 1)[0] if index + 1 < len(nodes) else _end_of_block(lines, start)
    # Blank and comment lines just above the next node belong to it, not to the node removed.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    del lines[start:end]
    # Do not leave two blank lines where there was one.
    if 0 < start < len(lines) and not lines[start].strip() and not lines[start - 1].strip():
        del lines[start]
    draft.new_text = "".join(lines)


def _end_of_block(lines: list[str], start: int) -> int:
    """First line after `start` indented no deeper than the `- ` that opens the item at `start`."""
    opener = lines[start]
    dash_col = len(opener) - len(opener.lstrip())
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(lines[i]) - len(lines[i].lstrip()) <= dash_col:
            return i
    return len(lines)
