"""SSH host key fingerprints, the identity of a node (DESIGN.md: pinned at discovery, checked on every SSH)."""

from __future__ import annotations

import base64
import binascii
import hashlib


class HostKeyError(ValueError):
    """Text that is not an OpenSSH public key."""


def fingerprint(public_key: str) -> str:
    """`SHA256:...` of an OpenSSH public key line (`ssh-ed25519 AAAA... comment`), as `ssh-keygen -l` prints."""
    parts = public_key.strip().split()
    blob_text = parts[1] if len(parts) >= 2 else ""
    try:
        blob = base64.b64decode(blob_text, validate=True)
    except (binascii.Error, ValueError):
        raise HostKeyError(f"not an OpenSSH public key: {public_key[:40]!r}") from None
    if not blob:
        raise HostKeyError(f"not an OpenSSH public key: {public_key[:40]!r}")
    return fingerprint_of_blob(blob)


def fingerprint_of_blob(blob: bytes) -> str:
    """`SHA256:...` of a raw public key blob (what paramiko's `PKey.asbytes()` returns)."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def mismatch(seen: str, pinned: str, node: str = "NODE") -> str:
    """The host-key rule in words, wherever a node presents another key than its pin: refused as a possible
    impostor, and how to pin a re-flashed card's new key once it is compared with the Pi's own."""
    return (
        f"host key {seen} is not the pinned {pinned}: possible impostor (a re-flashed card has a new key too); "
        "compare it with the Pi's own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on its console), then "
        f"`picf inventory set {node} host_key=` and `picf inventory pin {node}`"
    )
