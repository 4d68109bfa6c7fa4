"""The simulated LAN's supervisor: one host process per LAN, started by `picf sim up`, ended by `down`.

It does what the world outside the Pis does: it serves the nodes' Debian package source on the controller's
bridge address, and it carries out a node's own `reboot` or `poweroff` (a node cannot restart itself from
inside its namespaces). It ends by itself when the LAN's state file is gone.

    python -m picf.sim.supervisor BRIDGE
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import threading
import time
from pathlib import Path

from picf.sim import power, repo, state

POLL_S = 0.1
_DELAY_S = 0.3  # a reboot command returns before the node goes down, as with systemd


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the base class's name
        sys.stderr.write(f"repo: {self.address_string()} {format % args}\n")


def serve_repo(address: str, directory: Path) -> http.server.ThreadingHTTPServer:
    """Serve `directory` over HTTP on `address` (the bridge: only the nodes can reach it)."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer((address, repo.PORT), handler)
    threading.Thread(target=server.serve_forever, name="repo", daemon=True).start()
    return server


def _act(bridge: str, name: str, action: str) -> None:
    time.sleep(_DELAY_S)
    try:
        if action == "reboot":
            power.cycle(bridge, name)
        else:
            power.stop(bridge, name)
        sys.stderr.write(f"{name}: {action} done\n")
    except Exception as exc:  # keep supervising the other nodes
        sys.stderr.write(f"{name}: {action} failed: {exc}\n")


def run(bridge: str) -> int:
    """Serve and watch until the LAN is gone."""
    lan = state.require(bridge)
    server = serve_repo(lan.bridge_address, state.lan_dir(bridge) / "repo")
    busy: dict[str, threading.Thread] = {}
    try:
        while state.state_path(bridge).exists():
            for node in state.require(bridge).nodes:
                request = state.node_dir(lan, node) / "state" / "power-request"
                if not request.exists() or (node.name in busy and busy[node.name].is_alive()):
                    continue
                action = request.read_text().strip()
                request.unlink(missing_ok=True)
                worker = threading.Thread(target=_act, args=(bridge, node.name, action), daemon=True)
                busy[node.name] = worker
                worker.start()
            time.sleep(POLL_S)
    finally:
        server.shutdown()
    return 0


def is_supervisor(pid: int | None, bridge: str) -> bool:
    """True when `pid` is this LAN's supervisor (and not a recycled pid)."""
    if not pid:
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"picf.sim.supervisor" in argv and bridge.encode() in argv


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(run(sys.argv[1]))
