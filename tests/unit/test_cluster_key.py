"""The cluster's key as picf loads it: once per process, and again when the file is replaced."""

from __future__ import annotations

import os
from pathlib import Path

import paramiko
import pytest

from picf import transport
from picf.models.cluster import SshDefaults


def _write_key(path: Path) -> paramiko.PKey:
    key = paramiko.RSAKey.generate(1024)
    partial = path.with_name(path.name + ".partial")
    key.write_private_key_file(str(partial))
    os.replace(partial, path)  # as `ssh-keygen` into a new file, or a rebuilt simulated LAN, leaves it
    Path(f"{path}.pub").write_text(f"ssh-rsa {key.get_base64()} test\n")
    return key


def test_the_key_is_loaded_once_and_again_when_its_file_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    path = tmp_path / "id_cluster"
    first = _write_key(path)
    ssh = SshDefaults(private_key=str(path))
    loaded = transport.load_identity(ssh)
    assert loaded.key.asbytes() == first.asbytes() and not loaded.from_agent
    assert transport.load_identity(ssh) is loaded  # unchanged file: the key in memory
    second = _write_key(path)
    again = transport.load_identity(ssh)
    assert again.key.asbytes() == second.asbytes() != first.asbytes()
