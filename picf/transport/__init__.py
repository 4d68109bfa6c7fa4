"""How picf reaches a node for itself: SSH, host-key pinning, the cluster's key, `.local` names, and the seam
(`Transport`) a fake node plugs into. Ansible has its own connections. The bottom of picf: it imports no other
picf package but models, errors and small helpers."""

from picf.transport.base import NodeSession, NodeShell, Transport
from picf.transport.errors import HostKeyMismatch, KeyProblem, PinnedHostKey, RemoteError
from picf.transport.identity import Identity, load_identity, private_key_path
from picf.transport.names import resolve
from picf.transport.ssh import SSH, NodeConnection, ShellChannel, SshTransport, connect, fetch_host_key

__all__ = [
    "SSH",
    "HostKeyMismatch",
    "Identity",
    "KeyProblem",
    "NodeConnection",
    "NodeSession",
    "NodeShell",
    "PinnedHostKey",
    "RemoteError",
    "ShellChannel",
    "SshTransport",
    "Transport",
    "connect",
    "fetch_host_key",
    "load_identity",
    "private_key_path",
    "resolve",
]
