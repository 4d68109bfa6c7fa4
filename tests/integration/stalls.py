"""Nodes that stop answering at a chosen moment, for the deadline tests: a host that accepts TCP then goes
silent, one that dies mid-handshake, an SSH login that hangs, a command that hangs; and the cable pulled at
that very moment (each stall leaves a marker file the test waits for, then it pulls the cable)."""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from picf.models.sim import SimLan
from picf.sim import host as simhost
from picf.sim import lan as simlan
from picf.sim import ready
from picf.sim import state as simstate

TARPIT = Path(__file__).with_name("tarpit.py")


def in_node(lan: SimLan, name: str, command: str, check: bool = True) -> str:
    """A shell command inside a node, as root on its console (not over SSH). The node's current PID 1 is read
    from the LAN's state: a reboot or a power cut earlier in the session gives it a new one."""
    node = simstate.require(lan.bridge).node(name)
    assert node is not None and node.keeper_pid, name
    return simhost.in_node(node.keeper_pid, command, check=check)


def upper(lan: SimLan, name: str, path: str) -> Path:
    """Where a file the node writes under `path` (outside /run and /tmp) appears on the host."""
    return Path(lan.directory) / "nodes" / name / "upper" / path.lstrip("/")


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until it holds; fail naming `what` after a generous `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.05)


# Stop a node's sshd and wait until it has exited (a new one started before the old let go of port 22 fails
# to bind, and on a busy machine that takes a while).
STOP_SSHD = ("pid=$(cat /run/sshd.pid 2>/dev/null); [ -n \"$pid\" ] && kill $pid 2>/dev/null; "
             "while [ -n \"$pid\" ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done; rm -f /run/sshd.pid")  # fmt: skip


def _stop_sshd(lan: SimLan, name: str) -> None:
    in_node(lan, name, STOP_SSHD, check=False)


def _start_sshd(lan: SimLan, name: str, *options: str) -> None:
    extra = " ".join(f"-o {shlex.quote(o)}" for o in options)
    in_node(lan, name, f"{simlan.START_SSHD} {extra}")


@contextlib.contextmanager
def tarpit(lan: SimLan, name: str, mode: str) -> Iterator[Path]:
    """sshd replaced by a host that goes silent after accepting TCP (`silent`) or after its banner (`banner`);
    yields the marker that appears once a client connected."""
    node = lan.node(name)
    assert node is not None
    marker = upper(lan, name, f"/var/tmp/tarpit-{mode}")
    marker.unlink(missing_ok=True)
    # The node's /tmp is its own: put the script on its disk (the checkout may live under the host's /tmp).
    script = upper(lan, name, "/var/tmp/tarpit.py")
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_bytes(TARPIT.read_bytes())
    _stop_sshd(lan, name)
    in_node(lan, name, f"python3 /var/tmp/tarpit.py {node.address} 22 /var/tmp/tarpit-{mode} {mode} "
                       f"</dev/null >/dev/null 2>&1 & echo $! > /var/tmp/tarpit.pid")  # fmt: skip
    wait_until(lambda: ready.port_open(node.address), 10, f"the tarpit on {name}")
    try:
        yield marker
    finally:
        in_node(lan, name, "kill $(cat /var/tmp/tarpit.pid); rm -f /var/tmp/tarpit.pid", check=False)
        marker.unlink(missing_ok=True)
        time.sleep(0.2)
        _start_sshd(lan, name)


STALL_KEYS = "/usr/local/bin/picf-test-stall-keys"
_KILL_STALLED = "kill $(cat /var/tmp/stalled.pids); rm -f /var/tmp/stalled.pids"


@contextlib.contextmanager
def stalled_login(lan: SimLan, name: str) -> Iterator[Path]:
    """The node's real sshd hangs while it looks up the client's key (an SSH login stuck mid-handshake)."""
    marker = upper(lan, name, "/var/tmp/login-stalled")
    marker.unlink(missing_ok=True)
    script = "#!/bin/sh\necho $$ >> /var/tmp/stalled.pids\ntouch /var/tmp/login-stalled\nexec sleep 120\n"
    in_node(lan, name, f"printf %s {shlex.quote(script)} > {STALL_KEYS} && chmod 755 {STALL_KEYS}")
    _stop_sshd(lan, name)
    _start_sshd(
        lan, name, "AuthorizedKeysFile=none", f"AuthorizedKeysCommand={STALL_KEYS} %u", "AuthorizedKeysCommandUser=root"
    )
    try:
        yield marker
    finally:
        _stop_sshd(lan, name)
        in_node(
            lan,
            name,
            f"rm -f {STALL_KEYS}; kill $(cat /var/tmp/stalled.pids); rm -f /var/tmp/stalled.pids",
            check=False,
        )
        marker.unlink(missing_ok=True)
        _start_sshd(lan, name)


@contextlib.contextmanager
def hanging_command(lan: SimLan, name: str, command: str) -> Iterator[Path]:
    """`command` (a tool picf runs on the node, e.g. /usr/local/bin/getconf) hangs once called; yields the
    marker that appears when it was called."""
    marker = upper(lan, name, f"/var/tmp/hung-{Path(command).name}")
    marker.unlink(missing_ok=True)
    saved = f"/var/tmp/{Path(command).name}.real"
    script = f"#!/bin/sh\necho $$ >> /var/tmp/stalled.pids\ntouch /var/tmp/hung-{Path(command).name}\nexec sleep 120\n"
    in_node(lan, name, f"mv {command} {saved} && printf %s {shlex.quote(script)} > {command} && chmod 755 {command}")
    try:
        yield marker
    finally:
        in_node(
            lan,
            name,
            f"mv {saved} {command}; kill $(cat /var/tmp/stalled.pids); rm -f /var/tmp/stalled.pids",
            check=False,
        )
        marker.unlink(missing_ok=True)


@contextlib.contextmanager
def cable_pulled_when(lan: SimLan, name: str, marker: Path) -> Iterator[None]:
    """Pull `name`'s cable as soon as `marker` appears (from a thread); plug it back in afterwards."""
    import threading

    stop = threading.Event()

    def pull() -> None:
        while not stop.is_set():
            if marker.exists():
                simlan.fault(lan.bridge, name, "link-down")
                return
            time.sleep(0.02)

    puller = threading.Thread(target=pull, daemon=True)
    puller.start()
    try:
        yield
    finally:
        stop.set()
        puller.join(timeout=30)
        simlan.fault(lan.bridge, name, "link-up")


@contextlib.contextmanager
def hanging_read(lan: SimLan, name: str, path: str) -> Iterator[Path]:
    """Reading `path` on the node hangs (it becomes a FIFO nobody writes to); yields the marker that appears
    once a reader has opened it. The file's content is back afterwards."""
    marker = upper(lan, name, "/var/tmp/read-started")
    marker.unlink(missing_ok=True)
    saved = shlex.quote(path + ".picf-test")
    quoted = shlex.quote(path)
    in_node(lan, name, f"mkdir -p $(dirname {quoted}); [ -e {quoted} ] && mv {quoted} {saved}; mkfifo {quoted}")
    # The writer's open returns only once a reader has opened the FIFO: that is the moment.
    in_node(lan, name, f"sh -c 'echo $$ >> /var/tmp/stalled.pids; exec 3>{quoted}; touch /var/tmp/read-started; "
                       f"exec sleep 120' </dev/null >/dev/null 2>&1 &")  # fmt: skip
    try:
        yield marker
    finally:
        in_node(lan, name, f"rm -f {quoted}; [ -e {saved} ] && mv {saved} {quoted}; "
                           "kill $(cat /var/tmp/stalled.pids); rm -f /var/tmp/stalled.pids", check=False)  # fmt: skip
        marker.unlink(missing_ok=True)


# --- the moments the deadline tests stop a node at ------------------------------------------------------

Stall = Callable[[SimLan, str], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def silent_after_accept(lan: SimLan, name: str) -> Iterator[None]:
    with tarpit(lan, name, "silent"):
        yield


@contextlib.contextmanager
def dead_mid_handshake(lan: SimLan, name: str) -> Iterator[None]:
    with tarpit(lan, name, "banner"):
        yield


@contextlib.contextmanager
def cable_pulled_mid_login(lan: SimLan, name: str) -> Iterator[None]:
    with stalled_login(lan, name) as marker, cable_pulled_when(lan, name, marker):
        yield


def cable_pulled_mid_command(command: str) -> Stall:
    @contextlib.contextmanager
    def stall(lan: SimLan, name: str) -> Iterator[None]:
        with hanging_command(lan, name, command) as marker, cable_pulled_when(lan, name, marker):
            yield

    return stall


CONNECT_STALLS = {
    "silent-after-accept": silent_after_accept,
    "dead-mid-handshake": dead_mid_handshake,
    "cable-pulled-mid-login": cable_pulled_mid_login,
}


@contextlib.contextmanager
def cable_pulled_mid_state_read(lan: SimLan, name: str) -> Iterator[None]:
    with hanging_read(lan, name, "/var/vcap/picf/state.json") as marker, cable_pulled_when(lan, name, marker):
        yield


PLAN_STALLS = {**CONNECT_STALLS, "cable-pulled-mid-state-read": cable_pulled_mid_state_read}
