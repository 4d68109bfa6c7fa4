"""ARM binaries on an x86 host: qemu-user-static registered with binfmt_misc (the F flag, so it works in
the nodes' chroots too)."""

from __future__ import annotations

from pathlib import Path

from picf.sim.host import SimError, run

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
CONF_DIRS = (Path("/usr/lib/binfmt.d"), Path("/lib/binfmt.d"))
NEEDED = ("qemu-arm", "qemu-aarch64")


def ensure_arm_emulation() -> list[str]:
    """Mount binfmt_misc and register qemu-arm and qemu-aarch64 when missing; return what was registered."""
    if not (BINFMT_DIR / "register").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)])
    registered = []
    for name in NEEDED:
        if (BINFMT_DIR / name).exists():
            continue
        conf = next((d / f"{name}.conf" for d in CONF_DIRS if (d / f"{name}.conf").exists()), None)
        if conf is None:
            raise SimError(f"{name}: no binfmt entry in {CONF_DIRS[0]}; install qemu-user-static (`make setup`)")
        line = next(ln for ln in conf.read_text().splitlines() if ln.startswith(":"))
        interpreter = Path(line.split(":")[6])
        if not interpreter.exists():
            raise SimError(f"{interpreter}: missing; install qemu-user-static (`make setup`)")
        try:
            (BINFMT_DIR / "register").write_text(line)
        except OSError as exc:
            if not (BINFMT_DIR / name).exists():
                raise SimError(f"cannot register {name} with binfmt_misc: {exc.strerror}") from None
        registered.append(name)
    return registered
