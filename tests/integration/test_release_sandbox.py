"""Packaging scripts build in a sandbox: a release's script cannot write outside its compile dir and install
target, read the controller's keys, credentials or store, or reach the network; the build fails naming the
package, and nothing reaches the store."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on this machine's loopback that counts connections (the sandbox must not reach it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(b"reached\n")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


def _release(root: Path, script: str) -> Path:
    """A BOSH release with one package whose `packaging` is `script`."""
    (root / "config").mkdir(parents=True)
    (root / "config/final.yml").write_text("---\nfinal_name: evil\n")
    (root / "src/evil").mkdir(parents=True)
    (root / "src/evil/file.txt").write_text("data\n")
    (root / "packages/evil").mkdir(parents=True)
    (root / "packages/evil/spec").write_text("---\nname: evil\nfiles: [evil/file.txt]\n")
    (root / "packages/evil/packaging").write_text("set -e\ncd evil\n" + script)  # as real packaging scripts do
    return root


def _build(picf_bin: Path, data: Path, release: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PICF_DATA_DIR": str(data), "HOME": str(home)}
    return subprocess.run([str(picf_bin), "release", "build", str(release), "--arch", "armv7"], capture_output=True,
                          text=True, timeout=300, env=env)  # fmt: skip


def _store_files(data: Path) -> set[str]:
    store = data / "store"
    return {str(p.relative_to(store)) for p in store.rglob("*") if "tmp" not in p.relative_to(store).parts}


ATTEMPTS = {
    "write outside": 'echo owned > "{outside}/written"; cp file.txt "$BOSH_INSTALL_TARGET/"',
    "read the controller's ssh key": 'cp "{home}/.ssh/id_ed25519" "$BOSH_INSTALL_TARGET/"',
    "read the vars store": 'cp "{outside}/creds.yml" "$BOSH_INSTALL_TARGET/"',
    "read the store": 'ls "{data}/store/blobs" > "$BOSH_INSTALL_TARGET/listing"',
    "reach the network": 'exec 3<>/dev/tcp/127.0.0.1/{port}; head -1 <&3 > "$BOSH_INSTALL_TARGET/reply"',
    "write the system": 'echo owned > /usr/local/picf-owned; cp file.txt "$BOSH_INSTALL_TARGET/"',
}


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_a_packaging_script_cannot_leave_its_sandbox(
    picf_bin: Path, tmp_path: Path, listener: int, attempt: str
) -> None:
    home, outside, data = tmp_path / "home", tmp_path / "outside", tmp_path / "data"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh/id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY----- decoy\n")
    outside.mkdir()
    (outside / "creds.yml").write_text("logfwd_token: decoysecret\n")
    (outside / "creds.yml").chmod(0o600)
    # A first, honest build gives the store something to keep intact.
    honest = _release(tmp_path / "honest", 'cp file.txt "$BOSH_INSTALL_TARGET/"\n')
    assert _build(picf_bin, data, honest, home).returncode == 0
    before = _store_files(data)
    script = ATTEMPTS[attempt].format(outside=outside, home=home, data=data, port=listener)
    done = _build(picf_bin, data, _release(tmp_path / "evil", script + "\n"), home)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "picf: package evil failed to build for armv7" in done.stderr
    assert "compiles each package in a sandbox" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (outside / "written").exists() and not Path("/usr/local/picf-owned").exists()
    assert _store_files(data) == before  # nothing of the evil package, nothing changed
    assert "decoysecret" not in done.stdout + done.stderr and "decoy\n" not in done.stdout


def test_the_sandbox_still_builds_what_the_release_needs(picf_bin: Path, tmp_path: Path) -> None:
    """A script sees its compile dir, install target and the compilers (the target's, by the usual names)."""
    script = (
        "gcc --version > /dev/null && arm-linux-gnueabihf-gcc --version > /dev/null && make --version > /dev/null\n"
        'cp file.txt "$BOSH_INSTALL_TARGET/" && id -u > "$BOSH_INSTALL_TARGET/uid"\n'
    )
    data = tmp_path / "data"
    done = _build(picf_bin, data, _release(tmp_path / "ok", script), tmp_path)
    assert done.returncode == 0, done.stderr
