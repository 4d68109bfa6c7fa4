"""The cluster's key, as people keep it: a plain file, one with a passphrase, or in ssh-agent."""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import paramiko

from picf import prompts
from picf.models.cluster import SshDefaults
from picf.transport.errors import KeyProblem


@dataclass(frozen=True)
class Identity:
    """The key picf logs in with: loaded from its file, or the same key held by ssh-agent."""

    path: Path
    key: paramiko.PKey
    from_agent: bool
    passphrase: str | None = None  # kept in memory only, for the private agent a deploy gives Ansible


# Per key file, with the file's identity when it was loaded: a key file replaced while picf runs (a rebuilt
# simulated LAN, a rotated key) is loaded again, not answered from memory with a key the nodes no longer take.
_identities: dict[Path, tuple[tuple[int, ...], Identity]] = {}
_identities_lock = threading.Lock()


def private_key_path(ssh: SshDefaults) -> Path:
    """The cluster's private key, `~` expanded."""
    return Path(ssh.private_key).expanduser()


def _agent_key(public_blob: bytes | None) -> paramiko.PKey | None:
    if public_blob is None or not os.environ.get("SSH_AUTH_SOCK"):
        return None
    try:
        agent = paramiko.Agent()
        keys = agent.get_keys()
    except (paramiko.SSHException, OSError):
        return None
    found: paramiko.PKey | None = next((k for k in keys if k.asbytes() == public_blob), None)
    return found


def _public_blob(path: Path) -> bytes | None:
    try:
        fields = Path(f"{path}.pub").read_text().split()
        return base64.b64decode(fields[1], validate=True) if len(fields) >= 2 else None
    except (OSError, ValueError):
        return None


def load_identity(ssh: SshDefaults) -> Identity:
    """The cluster's key, unlocked once per process and key file (again when the file is replaced): from
    ssh-agent when it holds it, else from the file (asking for its passphrase when it has one). KeyProblem says
    exactly what is missing or wrong."""
    path = private_key_path(ssh)
    stamp = _file_stamp(path) + _file_stamp(Path(f"{path}.pub"))
    with _identities_lock:
        cached = _identities.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        identity = _load_identity(path)
        _identities[path] = (stamp, identity)
        return identity


def _file_stamp(path: Path) -> tuple[int, ...]:
    """What changes when a file is replaced or rewritten (nothing when it is missing)."""
    try:
        st = path.stat()
    except OSError:
        return (-1, -1, -1, -1)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _load_identity(path: Path) -> Identity:
    where = f"ssh.private_key {path}"
    agent = _agent_key(_public_blob(path))
    if agent is not None:
        return Identity(path, agent, from_agent=True)
    if not path.is_file():
        raise KeyProblem(f"{where} not found (and no ssh-agent holds it); set ssh.private_key in the inventory")
    try:
        return Identity(path, paramiko.PKey.from_path(path), from_agent=False)
    except TypeError:  # encrypted: it needs its passphrase
        pass
    except (ValueError, paramiko.SSHException, OSError) as exc:
        raise KeyProblem(f"{where} is not a private key picf can read ({exc})") from None
    passphrase = prompts.ask_passphrase(path)
    if passphrase is None:
        raise KeyProblem(
            f"{where} has a passphrase: add it to ssh-agent (ssh-add {path}) or run picf at a terminal to be "
            "asked for it"
        )
    try:
        key = paramiko.PKey.from_path(path, passphrase.encode())  # type: ignore[arg-type]  # it wants bytes
    except (ValueError, TypeError, paramiko.SSHException):
        raise KeyProblem(f"wrong passphrase for {where}") from None
    return Identity(path, key, from_agent=False, passphrase=passphrase)
