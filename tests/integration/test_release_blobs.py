"""A release whose C source is a blob, as real BOSH releases keep their tarballs: `config/blobs.yml` lists it, an
S3 blobstore (path-style, on 127.0.0.1 only) serves it, and `picf release sync-blobs` fetches it into blobs/
before `picf release build` compiles it for ARM.

The fixture release is examples/releases/logfwd with its src/lineprobe moved into `lineprobe-1.0.tar.gz`, the
blobstore named in config/final.yml (`provider: s3`, `host: 127.0.0.1`, `use_ssl: false`) and its port in
config/private.yml, as bosh users keep local options there. A second blob is listed with a legacy 40-hex SHA-1.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from picf.models.release import CompiledRelease
from picf.releases.read import blobs
from picf.releases.store import Store

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "releases" / "logfwd"
BUCKET = "logfwd-blobs"
LINEPROBE = "lineprobe/lineprobe-1.0.tar.gz"
LEGACY = "samples/lines-0.1.txt"
HANG_GUARD = 120  # seconds: a subprocess that takes longer is stuck, not slow

PACKAGING = """\
set -e -x

tar xzf lineprobe/lineprobe-1.0.tar.gz
cd lineprobe-1.0
./configure --prefix="${BOSH_INSTALL_TARGET}"
make
make install
"""


@dataclass
class ObjectServer:
    """An S3-shaped blobstore on loopback: GET /<bucket>/<object_id>; every request is counted."""

    port: int
    objects: dict[str, bytes] = field(default_factory=dict)  # object id -> what is served
    cut: set[str] = field(default_factory=set)  # object ids whose chunked transfer stops halfway
    requests: list[str] = field(default_factory=list)  # paths asked for, in order

    def url(self, object_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{BUCKET}/{object_id}"

    def asked(self, object_id: str) -> int:
        return self.requests.count(f"/{BUCKET}/{object_id}")


@pytest.fixture
def server() -> Iterator[ObjectServer]:
    state = ObjectServer(port=0)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            with lock:
                state.requests.append(self.path)
            bucket, _, object_id = self.path.lstrip("/").partition("/")
            body = state.objects.get(object_id) if bucket == BUCKET else None
            if object_id in state.cut and body is not None:
                half = body[: len(body) // 2]
                self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                self.wfile.write(f"{len(body):x}\r\n".encode() + half)  # a chunk that never ends
                self.wfile.flush()
                self.close_connection = True
                return
            if body is None:
                missing = b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"
                self.send_response(404)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(missing)))
                self.end_headers()
                self.wfile.write(missing)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=HANG_GUARD)


@dataclass
class Blob:
    path: str
    object_id: str
    content: bytes
    sha: str


@dataclass
class BlobRelease:
    root: Path
    server: ObjectServer
    blobs: dict[str, Blob]

    def blobs_yml(self, first: Blob | None = None) -> None:
        lines = ["---"]
        for blob in [*([first] if first else []), *self.blobs.values()]:
            lines += [f"{json.dumps(blob.path)}:", f"  size: {len(blob.content)}", f"  object_id: {blob.object_id}",
                      f"  sha: {blob.sha}"]  # fmt: skip
        (self.root / "config" / "blobs.yml").write_text("\n".join(lines) + "\n")

    def files_in_blobs(self) -> list[str]:
        base = self.root / "blobs"
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()) if base.exists() else []


def _tarball(directory: Path, prefix: str) -> bytes:
    """A gzipped tarball of `directory` under `prefix/`, as an upstream source tarball is."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(directory, arcname=prefix)
    return buffer.getvalue()


def _blob(path: str, content: bytes, legacy: bool = False) -> Blob:
    sha = hashlib.sha1(content).hexdigest() if legacy else "sha256:" + hashlib.sha256(content).hexdigest()
    return Blob(path, str(uuid.uuid4()), content, sha)


@pytest.fixture
def release(tmp_path: Path, server: ObjectServer) -> BlobRelease:
    root = tmp_path / "logfwd"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("blobs", ".blobstore", ".dev_builds"))
    source = _blob(LINEPROBE, _tarball(root / "src" / "lineprobe", "lineprobe-1.0"))
    legacy = _blob(LEGACY, b"".join(f"line {i} from a pi\n".encode() for i in range(200)), legacy=True)
    shutil.rmtree(root / "src" / "lineprobe")
    package = root / "packages" / "lineprobe"
    (package / "spec").write_text(f"---\nname: lineprobe\n\nfiles:\n- {LINEPROBE}\n")
    (package / "packaging").write_text(PACKAGING)
    (root / "config" / "final.yml").write_text(
        "---\nfinal_name: logfwd\nblobstore:\n  provider: s3\n  options:\n"
        f"    bucket_name: {BUCKET}\n    host: 127.0.0.1\n    use_ssl: false\n"
    )
    (root / "config" / "private.yml").write_text(f"---\nblobstore:\n  options:\n    port: {server.port}\n")
    made = BlobRelease(root, server, {b.path: b for b in (source, legacy)})
    made.blobs_yml()
    for blob in made.blobs.values():
        server.objects[blob.object_id] = blob.content
    return made


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "picf-data"


def picf(picf_bin: Path, data_dir: Path, *args: str, timeout: float = HANG_GUARD) -> subprocess.CompletedProcess[str]:
    # No proxy: every request of these tests goes to 127.0.0.1 itself.
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env |= {"PICF_DATA_DIR": str(data_dir), "NO_COLOR": "1"}
    return subprocess.run([str(picf_bin), *args], capture_output=True, text=True, timeout=timeout, env=env)


def sync(picf_bin: Path, data_dir: Path, release: BlobRelease) -> dict:  # type: ignore[type-arg]
    done = picf(picf_bin, data_dir, "release", "sync-blobs", str(release.root), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def lineprobe_package(picf_bin: Path, data_dir: Path, release: BlobRelease) -> dict:  # type: ignore[type-arg]
    done = picf(picf_bin, data_dir, "release", "inspect", str(release.root), "--json")
    assert done.returncode == 0, done.stderr
    return next(p for p in json.loads(done.stdout)["packages"] if p["name"] == "lineprobe")  # type: ignore[no-any-return]


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("picf: ")
    return lines[0]


# 1. before syncing


def test_an_unsynced_release_is_valid_and_its_blob_package_fingerprint_is_known_from_blobs_yml(
    picf_bin: Path, data_dir: Path, release: BlobRelease
) -> None:
    done = picf(picf_bin, data_dir, "release", "validate", str(release.root))
    assert done.returncode == 0, done.stderr
    assert f"{release.root}: valid, logfwd/0.1.0+dev (repository)" in done.stdout
    assert f"1 blob(s) not downloaded yet ({LINEPROBE})" in done.stderr
    assert f"picf release sync-blobs {release.root}" in done.stderr

    before = lineprobe_package(picf_bin, data_dir, release)
    assert before["missing_blobs"] == [LINEPROBE]
    # known from the blob's sha256 in blobs.yml (bosh-cli's v2 fingerprint is a sha256 of digests and modes)
    assert len(before["fingerprint"]) == 64 and set(before["fingerprint"]) <= set("0123456789abcdef")
    assert release.server.requests == []  # validating and inspecting fetch nothing

    sync(picf_bin, data_dir, release)
    after = lineprobe_package(picf_bin, data_dir, release)
    assert after["missing_blobs"] == []
    assert after["fingerprint"] == before["fingerprint"]


# 2. sync-blobs


def test_sync_blobs_fetches_both_digests_then_nothing_then_only_a_corrupted_blob(
    picf_bin: Path, data_dir: Path, release: BlobRelease
) -> None:
    server, source, legacy = release.server, release.blobs[LINEPROBE], release.blobs[LEGACY]
    done = picf(picf_bin, data_dir, "release", "sync-blobs", str(release.root))
    assert done.returncode == 0, done.stderr
    assert f"{release.root}: 2 blob(s) fetched, 0 already here" in done.stdout
    for blob in (source, legacy):
        assert f"{blob.path}: {len(blob.content)} bytes from {server.url(blob.object_id)}" in done.stderr
        assert (release.root / "blobs" / blob.path).read_bytes() == blob.content
        assert server.asked(blob.object_id) == 1
    assert release.files_in_blobs() == sorted([LINEPROBE, LEGACY])  # no partial left beside them

    asked = len(server.requests)
    again = sync(picf_bin, data_dir, release)
    assert again["fetched"] == []
    assert sorted(again["kept"]) == sorted([LINEPROBE, LEGACY])
    assert len(server.requests) == asked  # the server saw nothing new

    corrupted = release.root / "blobs" / LINEPROBE
    corrupted.write_bytes(source.content[:-1] + bytes([source.content[-1] ^ 0xFF]))
    (release.root / "blobs" / LEGACY).chmod(0o600)  # a different mode is no reason to fetch it again
    third = sync(picf_bin, data_dir, release)
    assert third["fetched"] == [LINEPROBE]
    assert third["kept"] == [LEGACY]
    assert corrupted.read_bytes() == source.content
    assert server.requests[asked:] == [f"/{BUCKET}/{source.object_id}"]


def test_sync_json_lists_what_was_fetched(picf_bin: Path, data_dir: Path, release: BlobRelease) -> None:
    (release.root / "blobs" / "notes").mkdir(parents=True)
    (release.root / "blobs" / "notes" / "mine.txt").write_text("a file of mine, never listed\n")
    report = sync(picf_bin, data_dir, release)
    assert report == {"directory": str(release.root), "fetched": [LINEPROBE, LEGACY], "kept": [],
                      "not_uploaded": [], "unlisted": ["notes/mine.txt"]}  # fmt: skip
    assert (release.root / "blobs" / "notes" / "mine.txt").is_file()  # left alone


def test_the_library_reads_the_port_from_private_yml_and_checks_a_sha1(
    release: BlobRelease, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    from picf.releases.read.repository import read_repository

    source = read_repository(release.root)
    assert source.blobstore is not None
    legacy = release.blobs[LEGACY]
    assert source.blobstore.location(legacy.object_id) == release.server.url(legacy.object_id)
    assert [(e.path, e.size, e.sha, e.object_id) for e in source.blob_entries] == [
        (b.path, len(b.content), b.sha, b.object_id) for b in release.blobs.values()
    ]
    target = tmp_path / "elsewhere" / "lines.txt"
    blobs.fetch(source.blobstore, legacy.object_id, legacy.sha, target, LEGACY, len(legacy.content))
    assert target.read_bytes() == legacy.content
    wrong = "0" * 40
    with pytest.raises(blobs.BlobUnavailable, match=f"has digest {legacy.sha}, expected {wrong}; not kept"):
        blobs.fetch(source.blobstore, legacy.object_id, wrong, tmp_path / "other" / "lines.txt", LEGACY)
    assert list((tmp_path / "other").iterdir()) == []


# 3. what cannot be had


@pytest.mark.parametrize("served", ["same size, other bytes", "truncated"])
def test_a_blob_the_server_gives_wrong_is_not_kept(
    picf_bin: Path, data_dir: Path, release: BlobRelease, served: str
) -> None:
    source = release.blobs[LINEPROBE]
    good = source.content
    release.server.objects[source.object_id] = (
        good[:100] + bytes([good[100] ^ 0x01]) + good[101:] if served == "same size, other bytes" else good[:-10]
    )
    line = one_error_line(picf(picf_bin, data_dir, "release", "sync-blobs", str(release.root)))
    assert f"picf: {LINEPROBE} ({len(good)} bytes): {release.server.url(source.object_id)} " in line
    if served == "truncated":
        assert f"gave {len(good) - 10} bytes" in line
    else:
        assert f"expected {source.sha}; not kept" in line
    assert release.files_in_blobs() == []  # not the blob, not a partial


def test_a_sha1_blob_the_server_gives_wrong_is_not_kept(picf_bin: Path, data_dir: Path, release: BlobRelease) -> None:
    sync(picf_bin, data_dir, release)
    legacy = release.blobs[LEGACY]
    (release.root / "blobs" / LEGACY).unlink()
    release.server.objects[legacy.object_id] = legacy.content.upper()
    line = one_error_line(picf(picf_bin, data_dir, "release", "sync-blobs", str(release.root)))
    wrong = hashlib.sha1(legacy.content.upper()).hexdigest()
    assert line == (f"picf: {LEGACY} ({len(legacy.content)} bytes): {release.server.url(legacy.object_id)} has "
                    f"digest {wrong}, expected {legacy.sha}; not kept")  # fmt: skip
    assert release.files_in_blobs() == [LINEPROBE]


def test_a_blob_the_server_does_not_have(picf_bin: Path, data_dir: Path, release: BlobRelease) -> None:
    source = release.blobs[LINEPROBE]
    del release.server.objects[source.object_id]
    line = one_error_line(picf(picf_bin, data_dir, "release", "sync-blobs", str(release.root)))
    assert line.startswith(f"picf: {LINEPROBE} ({len(source.content)} bytes): ")
    assert release.server.url(source.object_id) in line
    assert "Not Found" in line
    assert release.server.asked(source.object_id) == 1
    assert release.files_in_blobs() == []


def test_a_blobstore_that_refuses_connections(picf_bin: Path, data_dir: Path, release: BlobRelease) -> None:
    with socket.socket() as closed:  # bound, never listening: connecting to it is refused, and no one else has it
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        (release.root / "config" / "private.yml").write_text(f"---\nblobstore:\n  options:\n    port: {port}\n")
        line = one_error_line(picf(picf_bin, data_dir, "release", "sync-blobs", str(release.root)))
    source = release.blobs[LINEPROBE]
    assert line.startswith(f"picf: {LINEPROBE} ({len(source.content)} bytes): ")
    assert f"http://127.0.0.1:{port}/{BUCKET}/{source.object_id}" in line
    assert "Connection refused" in line
    assert release.server.requests == []
    assert release.files_in_blobs() == []


def test_a_transfer_cut_off_halfway(picf_bin: Path, data_dir: Path, release: BlobRelease) -> None:
    source = release.blobs[LINEPROBE]
    release.server.cut.add(source.object_id)
    done = picf(picf_bin, data_dir, "release", "sync-blobs", str(release.root))
    assert release.files_in_blobs() == []  # holds already: the partial file is removed either way
    line = one_error_line(done)
    assert line.startswith(f"picf: {LINEPROBE} ({len(source.content)} bytes): ")
    assert release.server.url(source.object_id) in line


# 5. a blob path outside blobs/


@pytest.mark.parametrize("escaping", ["../evil", "lineprobe/../../evil", "ABSOLUTE"])
def test_a_blob_path_escaping_blobs_is_refused_without_writing_outside(
    picf_bin: Path, data_dir: Path, release: BlobRelease, tmp_path: Path, escaping: str
) -> None:
    outside = tmp_path / "outside" / "evil"
    path = str(outside) if escaping == "ABSOLUTE" else escaping
    evil = _blob(path, _tarball(EXAMPLE / "src" / "lineprobe", "evil"))
    release.server.objects[evil.object_id] = evil.content  # the server would give it: picf must not ask
    release.blobs_yml(first=evil)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "picf-data" not in p.parts)
    done = picf(picf_bin, data_dir, "release", "sync-blobs", str(release.root))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    located, summary = done.stderr.strip().splitlines()  # the problem where it is, then one line
    assert located.startswith(f"{release.root / 'config' / 'blobs.yml'}:") and located.endswith(
        f": {path}: not a path inside blobs/"
    )
    assert summary.startswith(f"picf: {release.root}: 1 problem")
    assert release.server.asked(evil.object_id) == 0
    assert not (release.root / "evil").exists()
    assert not (tmp_path / "evil").exists()
    assert not outside.exists()
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "picf-data" not in p.parts)
    assert [p for p in after if p not in before and p.parts[:2] != ("logfwd", "blobs")] == []


def test_a_blob_path_naming_blobs_itself_is_refused(picf_bin: Path, data_dir: Path, release: BlobRelease) -> None:
    itself = _blob(".", b"not a directory\n")
    release.server.objects[itself.object_id] = itself.content
    release.blobs_yml(first=itself)
    done = picf(picf_bin, data_dir, "release", "sync-blobs", str(release.root))
    assert release.server.asked(itself.object_id) == 0
    assert not (release.root / "blobs").is_file()
    assert done.returncode == 1 and ": .: not a path inside blobs/" in done.stderr and "Traceback" not in done.stderr


# 4. building from the synced blob


@pytest.mark.timeout(1800)
def test_the_synced_blob_compiles_for_armv7_and_a_second_build_compiles_nothing(
    picf_bin: Path, data_dir: Path, release: BlobRelease, tmp_path: Path
) -> None:
    sync(picf_bin, data_dir, release)
    asked = len(release.server.requests)
    argv = ["release", "build", str(release.root), "--arch", "armv7", "--job", "logfwd", "--json"]
    done = picf(picf_bin, data_dir, *argv, timeout=1500)
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)
    assert sorted(first["compiled"]) == ["lineprobe", "logfwd"]
    compiled = CompiledRelease.model_validate(first["release"])
    assert (compiled.name, compiled.version, compiled.arch) == ("logfwd", "0.1.0+dev", "armv7")
    lineprobe = next(p for p in compiled.packages if p.name == "lineprobe")
    assert lineprobe.fingerprint == lineprobe_package(picf_bin, data_dir, release)["fingerprint"]

    tarball = data_dir / "store" / "blobs" / lineprobe.sha256
    assert tarball == Store(data_dir / "store").blob(lineprobe.sha256)
    with tarfile.open(tarball) as tar:
        names = [m.name.removeprefix("./") for m in tar.getmembers()]
        assert "bin/lineprobe" in names, names
        member = tar.extractfile(next(m for m in tar.getmembers() if m.name.removeprefix("./") == "bin/lineprobe"))
        assert member is not None
        binary = member.read()
    header = binary[:20]
    assert header[:4] == b"\x7fELF"
    assert header[4] == 1  # ELFCLASS32
    assert header[5] == 1  # little-endian
    assert int.from_bytes(header[18:20], "little") == 0x28  # EM_ARM

    # configure asked an ARM test program how wide a pointer is: it ran (under qemu-user, in the sandbox)
    program = tmp_path / "lineprobe"
    program.write_bytes(binary)
    program.chmod(0o755)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(HANG_GUARD)
        sent = subprocess.run(["qemu-arm-static", str(program), str(listener.getsockname()[1]), "from a blob"],
                              capture_output=True, text=True, timeout=HANG_GUARD)  # fmt: skip
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(HANG_GUARD)
            received = b""
            while chunk := conn.recv(1024):
                received += chunk
    assert sent.returncode == 0, sent.stderr
    assert "32-bit, configured for 32-bit pointers" in sent.stdout
    assert received == b"from a blob\n"

    again = picf(picf_bin, data_dir, *argv, timeout=HANG_GUARD)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["compiled"] == []
    assert "lineprobe" in second["cached"]
    assert len(release.server.requests) == asked  # building fetched nothing: the blob was here
