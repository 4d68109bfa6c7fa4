"""Fingerprints exactly as bosh-cli computes them, and BOSH's digest strings.

bosh-cli (`release/resource/fingerprint.go`, the "v2" scheme, SHA-256 since late 2018): the text hashed is
`v2`, then for each file, sorted byte-wise by its path relative to the job, `src/` or `blobs/`, the path, the
digest of its content written `sha256:<hex>`, and its mode (`100644`, `100755` with any exec bit, `40755` for a
directory, `symlink`), then the extra chunks (a package's dependency names) sorted and joined by `,`. The
fingerprint is the hex SHA-256 of that text.

- jobs: `spec` (named `job.MF`), `monit`, `properties_schema.json` and each `templates/<src>` the spec lists;
  symlinks are followed (but the mode comes from the link itself, as bosh-cli's lstat gives it);
- packages: `packaging` and `pre_packaging` without a mode, then the files the spec's globs match; symlinks are
  hashed as their target text with mode `symlink`; the dependency names as the extra chunk.

A digest string (`sha1` fields, `sha` in blobs.yml) is a bare 40-hex SHA-1, `sha256:<hex>`, `sha512:<hex>`, or
several joined by `;`; the strongest is checked.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_STRENGTH = {"sha1": 1, "sha256": 2, "sha512": 3}


@dataclass(frozen=True)
class Entry:
    """One file of a job or package as it enters a fingerprint."""

    path: Path  # on disk
    name: str  # relative name in the fingerprint (`job.MF`, `templates/x.erb`, `code/main.go`, `packaging`)
    with_mode: bool = True
    follow_symlinks: bool = False


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file's content."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _mode(path: Path, follow: bool) -> str:
    info = os.lstat(path)
    if stat.S_ISDIR(info.st_mode):
        return "40755"
    if stat.S_ISLNK(info.st_mode) and not follow:
        return "symlink"
    return "100755" if info.st_mode & 0o111 else "100644"


def _chunk(entry: Entry) -> str:
    path = entry.path
    if path.is_symlink() and not entry.follow_symlinks:
        content = hashlib.sha256(os.readlink(path).encode()).hexdigest()
    else:
        content = file_digest(path.resolve())
    return entry.name + "sha256:" + content + (_mode(path, entry.follow_symlinks) if entry.with_mode else "")


def fingerprint(entries: Iterable[Entry], extra: Iterable[str] = ()) -> str:
    """bosh-cli's v2 fingerprint of `entries` plus the extra chunks."""
    chunks = ["v2"]
    chunks += [_chunk(e) for e in sorted(entries, key=lambda e: e.name.encode())]
    extras = sorted(extra, key=lambda s: s.encode())
    if extras:
        chunks.append(",".join(extras))
    return hashlib.sha256("".join(chunks).encode()).hexdigest()


def known_digest_fingerprint(
    entries: Iterable[Entry], known: dict[str, tuple[str, str]], extra: Iterable[str] = ()
) -> str:
    """The fingerprint when some files are known only by their digest and mode (`name -> (sha256 hex, mode)`):
    a blob that blobs.yml records as `sha256:<hex>` but that is not downloaded yet."""
    chunks = [(e.name, _chunk(e)) for e in entries]
    chunks += [(name, name + "sha256:" + digest + mode) for name, (digest, mode) in known.items()]
    text = "v2" + "".join(chunk for _, chunk in sorted(chunks, key=lambda c: c[0].encode()))
    extras = sorted(extra, key=lambda s: s.encode())
    if extras:
        text += ",".join(extras)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_digests(text: str) -> dict[str, str]:
    """`sha256:ab..;sha1:cd..` or a bare 40-hex SHA-1 -> {algorithm: hex}; ValueError when unreadable."""
    out: dict[str, str] = {}
    for part in str(text).strip().split(";"):
        part = part.strip()
        if not part:
            continue
        algorithm, _, value = part.rpartition(":")
        algorithm = algorithm or ("sha1" if len(value) == 40 else "")
        expected = {"sha1": 40, "sha256": 64, "sha512": 128}.get(algorithm)
        if expected is None or len(value) != expected or any(c not in "0123456789abcdef" for c in value.lower()):
            raise ValueError(f"{text!r} is not a digest (40-hex SHA-1, sha256:<hex> or sha512:<hex>)")
        out[algorithm] = value.lower()
    if not out:
        raise ValueError("empty digest")
    return out


def strongest(text: str) -> tuple[str, str]:
    """The strongest (algorithm, hex) of a digest string."""
    digests = parse_digests(text)
    algorithm = max(digests, key=lambda a: _STRENGTH[a])
    return algorithm, digests[algorithm]


def verify(path: Path, expected: str) -> str | None:
    """None when `path` has the digest `expected` (its strongest part); else the digest it has."""
    algorithm, value = strongest(expected)
    actual = file_digest(path, algorithm)
    if actual == value:
        return None
    return actual if algorithm == "sha1" else f"{algorithm}:{actual}"


def sha256_digest(path: Path) -> str:
    """`sha256:<hex>` of a file, as current bosh-cli writes `sha1` fields."""
    return "sha256:" + file_digest(path)
