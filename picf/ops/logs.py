"""`picf logs`: the jobs' logs under /var/vcap/sys/log/JOB/, read, followed or downloaded as `bosh logs` does.

Each round sends the node one short script (scripts/logs.sh) with where the last round stopped in each file;
the node answers with what was written since. So a follow survives what a job and a node do to their logs: a
restart (the file grows on), a new file, a file truncated or replaced (read again from its start), a node
that drops off the LAN or reboots (the round fails, picf says so and connects again until it answers, then
goes on where it stopped). Logs are read as the cluster's user where the layout lets it, else through sudo.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from picf import transport
from picf.errors import UsageError
from picf.models.cluster import Cluster
from picf.ops.access import NodeSession, as_root, open_session, script, sudo_problem
from picf.ops.targets import Target

LOG_ROOT = "/var/vcap/sys/log"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A line's own time, where it starts with one: RFC 3339 / ISO 8601 (bracketed or not), or a Unix time.
_STAMP = re.compile(
    r"^\[?(?P<iso>\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
    r"|^(?P<unix>1\d{9}(?:\.\d+)?)\b"
)


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `1d` as seconds; UsageError otherwise."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise UsageError(f"--since {text!r}: give a duration like 90s, 15m, 2h or 1d")
    return float(int(match.group(1)) * _UNITS[match.group(2)])


def line_time(line: str) -> float | None:
    """The Unix time a log line starts with, if it starts with one (a time without a zone is read as UTC)."""
    match = _STAMP.match(line)
    if match is None:
        return None
    if match.group("unix"):
        return float(match.group("unix"))
    text = match.group("iso").replace(",", ".").replace(" ", "T").replace("/", "-")
    text = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


@dataclass(frozen=True)
class LogLine:
    """One line a job wrote: the node, the job, the file under the job's log directory, the text."""

    node: str
    job: str
    file: str
    text: str


@dataclass(frozen=True)
class LogNote:
    """Something picf says about a node's logs (a file replaced, the node gone or back)."""

    node: str
    text: str


@dataclass
class FileMark:
    """How far a file was read: its inode, the offset, and the checksum of the 16 bytes before it."""

    inode: str
    offset: int
    check: str


@dataclass
class Answer:
    """One round's answer: the lines, the notes, and whether something could be read only as root."""

    lines: list[LogLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    denied: bool = False


def parse_answer(node: str, text: str, marks: dict[str, FileMark], since: float | None) -> Answer:
    """Read logs.sh's answer, moving `marks` to where this round stopped. Lines before `since` (by the time
    they start with; a line without one goes with the line above it) are left out."""
    answer = Answer()
    current: tuple[str, str] | None = None
    keep = True
    for raw in text.split("\n"):
        if raw.startswith("@@file "):
            name, inode, size, start, how, check = raw[len("@@file ") :].rsplit(" ", 5)
            marks[name] = FileMark(inode, int(size), check)
            job, _, rel = name.partition("/")
            current, keep = (job, rel), True
            if how in ("truncated", "replaced"):
                answer.notes.append(f"{name} was {how}; reading it from its start")
            elif how == "skipped":
                answer.notes.append(f"{name}: {int(start)} bytes left out (more than a round reads)")
        elif raw.startswith("@@denied "):
            answer.denied = True
        elif raw.startswith("@@missing "):
            job = raw.split(" ", 1)[1]
            answer.notes.append(f"{job}: no logs yet ({LOG_ROOT}/{job} does not exist)")
        elif raw.startswith("|") and current is not None:
            line = raw[1:]
            if since is not None:
                at = line_time(line)
                keep = keep if at is None else at >= since
            if keep:
                answer.lines.append(LogLine(node, current[0], current[1], line))
    return answer


@dataclass
class NodeLogs:
    """Where reading one node's logs stands: the files seen and how far, and whether it needs root."""

    cluster: Cluster
    target: Target
    jobs: tuple[str, ...]
    password: str | None
    lines: int = 50
    since: float | None = None  # a Unix time, for the first round
    marks: dict[str, FileMark] = field(default_factory=dict)
    root: bool = False
    rounds: int = 0

    def command(self) -> str:
        first = self.rounds == 0
        tokens = (
            [] if first else [f"{name}\t{m.inode}\t{m.offset}\t{m.check}" for name, m in sorted(self.marks.items())]
        )
        if not first and not tokens:
            tokens = ["\t0\t0\t0"]  # "not a first round": new files are read whole
        since = int(self.since) if first and self.since is not None else 0
        args = ["logs", str(self.lines), str(since), *self.jobs, "--", *tokens]
        return f"sh -c {shlex.quote(script('logs.sh'))} {shlex.join(args)}"

    def round(self, session: NodeSession, timeout: float = 10.0) -> Answer:
        """One round: what was written since the last one (the last lines, on the first)."""
        marks = dict(self.marks)
        if not self.root:
            code, out, err = session.run(self.command(), timeout)
            if code != 0:
                raise transport.RemoteError(session.name, "command", f"reading logs failed: {_tail(err or out)}")
            answer = parse_answer(self.target.name, out, marks, self.since if self.rounds == 0 else None)
            if not answer.denied:
                self.marks, self.rounds = marks, self.rounds + 1
                return answer
            self.root, marks = True, dict(self.marks)
        code, out, err = session.run_root(self.command(), timeout)
        if code != 0:
            raise transport.RemoteError(session.name, "command", f"reading logs failed: {_tail(err or out)}")
        answer = parse_answer(self.target.name, out, marks, self.since if self.rounds == 0 else None)
        self.marks, self.rounds = marks, self.rounds + 1
        return answer


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


Emit = Callable[[LogLine | LogNote], None]


def follow(
    cluster: Cluster,
    readers: list[NodeLogs],
    emit: Emit,
    stop: threading.Event,
    interval: float = 1.0,
    retry: float = 2.0,
) -> None:
    """Follow every node's logs until `stop` is set: a thread per node, each round's lines to `emit` (from
    several threads: `emit` must be safe to call at once). A node that drops off is said once, then tried again
    every `retry` seconds until it answers; then its logs go on where they stopped."""
    lock = threading.Lock()

    def say(item: LogLine | LogNote) -> None:
        with lock:
            emit(item)

    def one(reader: NodeLogs) -> None:
        name = reader.target.name
        session: NodeSession | None = None
        lost: str | None = None
        while not stop.is_set():
            try:
                if session is None:
                    session = open_session(cluster, reader.target.node, reader.password, timeout=5.0)
                    if lost is not None:
                        say(LogNote(name, "answers again; following on where it stopped"))
                        lost = None
                answer = reader.round(session)
            except transport.RemoteError as exc:
                if session is not None:
                    session.close()
                    session = None
                if isinstance(exc, transport.HostKeyMismatch):
                    say(LogNote(name, f"{exc.reason}; stopped following it"))
                    return
                if lost is None:
                    lost = exc.reason
                    say(LogNote(name, f"lost ({lost}); following again when it answers"))
                stop.wait(retry)
                continue
            for text in answer.notes:
                say(LogNote(name, text))
            for line in answer.lines:
                say(line)
            stop.wait(interval)
        if session is not None:
            session.close()

    threads = [threading.Thread(target=one, args=(r,), daemon=True, name=f"logs-{r.target.name}") for r in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.2)


def download(session: NodeSession, jobs: tuple[str, ...], directory: Path, timeout: float = 300.0) -> Path:
    """The node's logs of `jobs` as one tarball in `directory` (`NODE-YYYYMMDD-HHMMSS.tgz`, as `bosh logs`
    names one per instance), written whole or not at all."""
    directory.mkdir(parents=True, exist_ok=True)
    present = [j for j in jobs if j]
    names = " ".join(shlex.quote(j) for j in present)
    check = f'cd {LOG_ROOT} && for j in {names}; do [ -e "$j" ] && echo "$j"; done'
    _, out, _ = session.run(check, 30.0)
    there = out.split()
    if not there:
        raise UsageError(f"{session.name}: no logs of {', '.join(present)} under {LOG_ROOT}")
    readable, _, _ = session.run(f"cd {LOG_ROOT} && [ -z \"$(find {shlex.join(there)} ! -readable | head -n 1)\" ]",
                                 30.0)  # fmt: skip
    tar = f"tar -czf - -C {LOG_ROOT} -- {shlex.join(there)}"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{session.name}-{stamp}.tgz"
    partial = directory / f".{path.name}.partial"
    try:
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as sink:
            if readable == 0:
                code, err = session.conn.read_to(tar, sink, timeout)
            else:
                line, feed = as_root(tar, session.password)
                code, err = session.conn.read_to(line, sink, timeout, stdin=feed)
                problem = sudo_problem(session.name, session.cluster.ssh.user, err, session.password is not None)
                if code != 0 and problem is not None:
                    raise problem
            if code not in (0, 1):  # tar's 1: a file changed while it was read (a job writing its log)
                raise transport.RemoteError(session.name, "command", f"tar of the logs failed: {_tail(err)}")
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
