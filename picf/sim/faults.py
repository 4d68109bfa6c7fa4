"""What each `picf sim fault` kind does to a node's firmware state. Pure: state in, state out.

Throttle bits as `vcgencmd get_throttled` reports them (FACTS.md section 2): 0 under-voltage, 1 ARM frequency
capped, 2 throttled, 3 soft temperature limit; 16-19 the same, "has occurred since boot".
"""

from __future__ import annotations

from dataclasses import dataclass

from picf.models.health import FREQ_CAPPED, SINCE_BOOT_SHIFT, SOFT_TEMP_LIMIT, THROTTLED, UNDER_VOLTAGE
from picf.sim.image import NORMAL_TEMP_MILLI_C

# A Pi past 80 C: the firmware caps the frequency and throttles; the soft limit applies too.
OVERHEAT_TEMP_MILLI_C = 84_512
_OVERHEAT_NOW = FREQ_CAPPED | THROTTLED | SOFT_TEMP_LIMIT

FIRMWARE_FAULTS = ("overheat", "undervoltage", "clear")
LINK_FAULTS = ("link-down", "link-up")
SSH_FAULTS = ("stop-ssh", "start-ssh")
POWER_FAULTS = ("power-off", "power-on", "power-cycle")  # a real restart: every process ends, the disk stays
KINDS = (*LINK_FAULTS, *SSH_FAULTS, *FIRMWARE_FAULTS, *POWER_FAULTS)


@dataclass(frozen=True)
class Firmware:
    """A node's thermal and power state as the firmware reports it."""

    temp_milli_c: int
    throttled: int


def apply_firmware_fault(state: Firmware, kind: str) -> Firmware:
    """The state after `kind`; `clear` returns to a cool, never-throttled Pi."""
    if kind == "overheat":
        now = _OVERHEAT_NOW | (state.throttled & UNDER_VOLTAGE)
        return Firmware(OVERHEAT_TEMP_MILLI_C, now | (now << SINCE_BOOT_SHIFT) | (state.throttled & 0xF0000))
    if kind == "undervoltage":
        bits = UNDER_VOLTAGE | (UNDER_VOLTAGE << SINCE_BOOT_SHIFT)
        return Firmware(state.temp_milli_c, state.throttled | bits)
    if kind == "clear":
        return Firmware(NORMAL_TEMP_MILLI_C, 0)
    raise ValueError(f"not a firmware fault: {kind!r}")


def parse_throttled(text: str) -> int:
    """`0x50005` (what the state file and `vcgencmd get_throttled` hold) -> int."""
    return int(text.strip().removeprefix("throttled="), 16)


def active_after(active: list[str], kind: str) -> list[str]:
    """The faults still in force after `kind` (`link-up` ends `link-down`, `clear` ends the firmware ones)."""
    undo = {"link-up": {"link-down"}, "start-ssh": {"stop-ssh"}, "clear": {"overheat", "undervoltage"},
            "power-on": {"power-off"}, "power-cycle": {"power-off", "stop-ssh"}}  # fmt: skip
    if kind in {"power-on", "power-cycle"}:  # a boot starts sshd again
        active = [f for f in active if f != "stop-ssh"]
    if kind in undo:
        return [f for f in active if f not in undo[kind]]
    return active if kind in active else [*active, kind]
