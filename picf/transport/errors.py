"""How reaching a node fails, and the host-key policy that decides whether the node is the one pinned.

Every failure is a RemoteError with one line a person can act on; `kind` says which way it failed.
"""

from __future__ import annotations

import paramiko

from picf.errors import Unreachable, UsageError
from picf.hostkeys import fingerprint_of_blob, mismatch


class RemoteError(Unreachable):
    """A node could not be reached or did not run a command; `kind` says which way it failed."""

    def __init__(self, address: str, kind: str, message: str) -> None:
        super().__init__(f"{address}: {message}")
        self.address = address
        self.kind = kind  # unreachable | refused | auth | host-key | timeout | command | resolve
        self.reason = message  # the message without the address


class KeyProblem(UsageError):
    """The cluster's private key is missing, unreadable or locked: nothing was sent to any node."""


class HostKeyMismatch(RemoteError):
    """The node presented a different host key than the one pinned: a reinstall, or an impostor."""

    def __init__(self, address: str, expected: str, seen: str) -> None:
        super().__init__(address, "host-key", mismatch(seen, expected))
        self.expected = expected
        self.seen = seen


def check_host_key(address: str, expected: str | None, seen: str) -> None:
    """HostKeyMismatch unless `seen` is the pinned fingerprint (with no pin, any key is accepted)."""
    if expected is not None and seen != expected:
        raise HostKeyMismatch(address, expected, seen)


class PinnedHostKey(paramiko.MissingHostKeyPolicy):
    """Accept exactly the pinned fingerprint; with no pin, accept and remember what was seen."""

    def __init__(self, address: str, expected: str | None) -> None:
        self.address = address
        self.expected = expected
        self.seen: str | None = None

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        self.seen = fingerprint_of_blob(key.asbytes())
        check_host_key(self.address, self.expected, self.seen)
