"""`picf sim fault`: break a simulated node as real hardware breaks (heat, power, a cable, sshd) and undo it."""

from __future__ import annotations

from picf.atomic import write_atomic
from picf.sim import boot, faults, host, image, power, state
from picf.sim.boot import START_SSHD
from picf.sim.host import SimError
from picf.sim.inspect import firmware
from picf.sim.ready import wait_for_ssh
from picf.sim.state import require


def fault(bridge: str, name: str, kind: str) -> str:
    """Inject (or undo) a fault on node `name`; return a one-line description of what changed."""
    host.require_root_and_linux()
    lan = require(bridge)
    node = lan.node(name)
    if node is None:
        raise SimError(f"no node {name!r} on {bridge} (nodes: {', '.join(n.name for n in lan.nodes)})")
    if kind not in faults.KINDS:
        raise SimError(f"unknown fault {kind!r}; kinds: {', '.join(faults.KINDS)}")
    if kind in faults.FIRMWARE_FAULTS:
        current = firmware(lan, node) or faults.Firmware(image.NORMAL_TEMP_MILLI_C, 0)
        new = faults.apply_firmware_fault(current, kind)
        directory = state.node_dir(lan, node) / "state"
        write_atomic(directory / "thermal/thermal_zone0/temp", f"{new.temp_milli_c}\n".encode(), backup=False)
        write_atomic(directory / "throttled", f"{new.throttled:#x}\n".encode(), backup=False)
        what = f"temp {new.temp_milli_c / 1000:.1f} C, throttled={new.throttled:#x}"
    elif kind in faults.LINK_FAULTS:
        host.run(["ip", "link", "set", node.veth, "down" if kind == "link-down" else "up"])
        what = f"cable {'unplugged' if kind == 'link-down' else 'plugged in'} ({node.veth})"
    elif kind in faults.POWER_FAULTS:
        if kind == "power-off":
            power.stop(bridge, name)
            what = "power off (every process ended; the disk stays)"
        elif kind == "power-on":
            booted = power.start(bridge, name)
            wait_for_ssh([booted])
            what = f"power on (boot {booted.boots})"
        else:
            booted = power.cycle(bridge, name)
            wait_for_ssh([booted])
            what = f"power cut and back (boot {booted.boots})"
    else:
        if not boot.running(node) or not node.keeper_pid:
            raise SimError(f"{name} is not running; `picf sim up` restarts it")
        if kind == "stop-ssh":
            host.in_node(node.keeper_pid, "kill $(cat /run/sshd.pid) 2>/dev/null; rm -f /run/sshd.pid")
            what = "sshd stopped"
        else:
            host.in_node(node.keeper_pid, f"[ -s /run/sshd.pid ] || {START_SSHD}")
            wait_for_ssh([node])
            what = "sshd running"
    with state.changing(bridge) as now:
        changed = now.node(name)
        if changed is not None:
            changed.faults = faults.active_after(changed.faults, kind)
    return f"{name}: {kind}: {what}"
