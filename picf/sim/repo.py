"""The simulated LAN's Debian package source: what the nodes' apt finds instead of the internet.

A stock Raspberry Pi OS has no monit; picf's deploy installs it with apt, as it would on a real Pi with
internet. A node here has no route off the bridge, so the simulator serves a small flat repository from the
controller's bridge address: the host's own `.deb` of each package a stock image lacks, fetched once with
`apt-get download` into a cache (by `make setup`, or the first `picf sim up`). Nothing else is reachable.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import time
from pathlib import Path

from picf.sim.host import SimError, run

DEB_CACHE = Path("/var/cache/picf-sim/debs")
PACKAGES = ("monit",)  # on a stock image they are missing; deploy installs them from here
PORT = 8642


def ensure_debs(cache: Path = DEB_CACHE) -> list[Path]:
    """The cached `.deb` of every package in PACKAGES, downloading what is missing (apt-get download)."""
    cache.mkdir(parents=True, exist_ok=True)
    found = []
    for package in PACKAGES:
        debs = sorted(cache.glob(f"{package}_*.deb"))
        if not debs:
            _download(package, cache)
            debs = sorted(cache.glob(f"{package}_*.deb"))
        if not debs:
            raise SimError(f"no .deb of {package} in {cache}; run `make setup` (it runs apt-get download {package})")
        found.append(debs[-1])
    return found


def _download(package: str, cache: Path) -> None:
    try:
        run(["apt-get", "download", package], cwd=cache, timeout=300)
    except SimError:
        run(["apt-get", "update", "-qq"], timeout=600)
        run(["apt-get", "download", package], cwd=cache, timeout=300)


def _fields(deb: Path) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout


def build(directory: Path, debs: list[Path]) -> None:
    """A flat repository in `directory`: the debs under clean names, `Packages(.gz)` and `Release`."""
    directory.mkdir(parents=True, exist_ok=True)
    stanzas = []
    for deb in debs:
        control = _fields(deb)
        fields = dict(line.split(": ", 1) for line in control.splitlines() if ": " in line and line[0] != " ")
        # apt asks for the file by URL: no `%3a` epoch escapes in the name.
        name = f"{fields['Package']}_{fields['Version'].split(':')[-1]}_{fields['Architecture']}.deb"
        shutil.copyfile(deb, directory / name)
        data = (directory / name).read_bytes()
        stanzas.append(
            control.rstrip("\n")
            + f"\nFilename: ./{name}\nSize: {len(data)}\nMD5sum: {hashlib.md5(data).hexdigest()}\n"
            + f"SHA256: {hashlib.sha256(data).hexdigest()}\n"
        )
    packages = "\n".join(stanzas).encode()
    (directory / "Packages").write_bytes(packages)
    (directory / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
    lines = [
        "Origin: picf-sim",
        "Label: picf-sim",
        "Suite: stable",
        "Codename: picf-sim",
        time.strftime("Date: %a, %d %b %Y %H:%M:%S UTC", time.gmtime()),
        "Architectures: amd64 arm64 armhf all",
        "SHA256:",
    ]
    for name in ("Packages", "Packages.gz"):
        data = (directory / name).read_bytes()
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}")
    (directory / "Release").write_text("\n".join(lines) + "\n")


def sources_list(url: str) -> str:
    """The node's /etc/apt/sources.list: only the simulator's repository."""
    return (
        "# picf sim: this node has no internet; its packages come from the simulator on the bridge.\n"
        f"deb [trusted=yes] {url} ./\n"
    )
