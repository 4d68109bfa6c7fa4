"""The cluster key for Ansible when it has a passphrase: a private ssh-agent for one deploy.

picf unlocks the key once (asking for the passphrase, or finding it in the user's ssh-agent). Ansible's ssh
cannot ask, so for a key unlocked with a passphrase picf starts its own ssh-agent in the deploy's private
directory, adds the key (the passphrase travels in ssh-add's environment only, never in a file), points
Ansible at it, and stops it when the deploy ends; if picf itself is killed, the kernel stops the agent too.
A key that ssh-agent already holds needs none of this: Ansible uses the user's agent.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from picf.errors import PicfError
from picf.transport import Identity

_PR_SET_PDEATHSIG = 1
_ASKPASS = (
    "#!/bin/sh\n# picf: the passphrase ssh-add asks for, from its own environment\n"
    'printf "%s\\n" "$PICF_KEY_PASSPHRASE"\n'
)


def _die_with_parent() -> None:  # runs in the child before exec
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@contextlib.contextmanager
def ssh_agent_for(identity: Identity, directory: Path) -> Iterator[dict[str, str]]:
    """The environment Ansible needs to use `identity`: nothing for a plain key or one the user's agent holds;
    a private agent's socket for a key unlocked with a passphrase."""
    if identity.passphrase is None:
        yield {}
        return
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    socket_path = directory / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(socket_path)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists():
            if agent.poll() is not None or time.monotonic() > deadline:
                raise PicfError("ssh-agent did not start; is openssh-client installed?")
            time.sleep(0.01)
        askpass = directory / "askpass"
        askpass.write_text(_ASKPASS)
        askpass.chmod(0o700)
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path), "SSH_ASKPASS": str(askpass),
               "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": os.environ.get("DISPLAY", "picf"),
               "PICF_KEY_PASSPHRASE": identity.passphrase}  # fmt: skip
        added = subprocess.run(["ssh-add", "-q", str(identity.path)], env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        if added.returncode != 0:
            raise PicfError(f"ssh-add could not load {identity.path} for Ansible: {added.stderr.strip()[:200]}")
        yield {"SSH_AUTH_SOCK": str(socket_path)}
    finally:
        agent.kill()
        agent.wait(timeout=10)
