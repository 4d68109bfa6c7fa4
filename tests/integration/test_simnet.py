"""picf refuses an address in the simulator's range unless a LAN of this machine is up on it: checked in a network
namespace of the test's own, with real interfaces going up and down (the kernel's netlink answer, and ifaddr's)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.integration.conftest import require_root_linux

_SCRIPT = textwrap.dedent(
    """
    import json, subprocess, sys
    import ifaddr
    from picf import simnet
    from picf.errors import UsageError

    def ip(*args):
        subprocess.run(["ip", *args], check=True)

    def refused(address):
        try:
            simnet.check_reachable(address)
        except UsageError as exc:
            return str(exc)
        return None

    def by_ifaddr():
        return sorted(
            (a.nice_name, f"{i.ip}/{i.network_prefix}")
            for a in ifaddr.get_adapters() if simnet._is_up(a.nice_name)
            for i in a.ips if isinstance(i.ip, str)
        )

    out = {}
    ip("link", "add", "lan0", "type", "bridge")
    ip("addr", "add", "10.231.77.1/24", "dev", "lan0")
    ip("addr", "add", "10.231.78.1/24", "dev", "lan0")  # a second address on the same link
    out["down"] = [simnet.simulated_lan_for("10.231.77.9"), refused("10.231.77.9")]
    ip("link", "set", "lan0", "up")
    for n in range(40):  # many links without IPv4, as picf sim's veths
        ip("link", "add", f"v{n}", "type", "veth", "peer", "name", f"p{n}")
        ip("link", "set", f"v{n}", "up")
    lan = simnet.simulated_lan_for
    out["up"] = [lan("10.231.77.9"), lan("10.231.78.9"), refused("10.231.77.9")]
    out["elsewhere"] = [simnet.simulated_lan_for("10.231.79.9"), refused("10.231.79.9"), refused("192.0.2.7")]
    out["same_as_ifaddr"] = sorted((n, str(net)) for n, net in simnet._local_networks()) == [
        (n, str(__import__("ipaddress").IPv4Network(a, strict=False))) for n, a in by_ifaddr()
    ]
    print(json.dumps(out))
    """
)


def test_an_address_in_the_sim_range_is_refused_unless_a_link_of_this_machine_is_up_on_it() -> None:
    require_root_linux()
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    lan, refusal = seen["down"]
    assert lan is None and "no simulated LAN is up on it" in refusal  # the link exists but is down
    assert seen["up"] == ["lan0", "lan0", None]
    lan, refusal, outside = seen["elsewhere"]
    assert lan is None and refusal.startswith("10.231.79.9 is in picf sim's subnet")
    assert outside is None  # not the simulator's range: not this rule's business
    assert seen["same_as_ifaddr"] is True
