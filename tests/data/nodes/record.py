"""Record what real (simulated) nodes answer to picf's node scripts, for tests/fakenode.py.

    picf sim up --bridge pdt1 --subnet 10.231.52.0/24 --hostname-prefix pdt -n 3
    picf sim fault pdt-2 undervoltage --bridge pdt1
    picf sim inventory --bridge pdt1 > /tmp/inv.yml
    python tests/data/nodes/record.py /tmp/inv.yml tests/data/nodes

Per node NAME, NAME/ holds: host_key and known_hosts (what SSH proved), identify.out, node_state.out, and
health-1.out, health-2.out (two polls a second apart; the poll's nonce written as NONCE).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from picf import transport
from picf.inventory import read_inventory
from picf.node_probe import script


def main(inventory: Path, out: Path) -> None:
    cluster = read_inventory(inventory).cluster
    for node in cluster.nodes:
        conn = transport.connect(node.address, cluster.ssh, node.host_key, timeout=10)
        where = out / node.name
        where.mkdir(parents=True, exist_ok=True)
        (where / "host_key").write_text(conn.host_key + "\n")
        (where / "known_hosts").write_text(conn.known_hosts_line() + "\n")
        for name in ("identify", "node_state"):
            (where / f"{name}.out").write_text(conn.run(script(name), timeout=10))
        shell = conn.open_shell(define=script("health"))
        for poll in (1, 2):
            nonce = f"rec{poll}"
            shell.send(f"picf_probe {nonce}", 10)
            answer = shell.receive(f"@@picf:end {nonce}", 10)
            (where / f"health-{poll}.out").write_text(answer.replace(nonce, "NONCE"))
            time.sleep(1)
        conn.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
