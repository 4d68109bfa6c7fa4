"""A host that goes silent at a chosen moment of an SSH connection (run on a simulated node, in place of sshd).

    python3 tarpit.py ADDRESS PORT MARKER MODE
    MODE silent: accept TCP, then say nothing (a host that hangs after the SYN-ACK)
    MODE banner: send an OpenSSH banner, then say nothing (a host that dies mid-handshake)

MARKER is touched once a client has connected, so a test can pull the cable right then.
"""

import socket
import sys
import time
from pathlib import Path

address, port, marker, mode = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((address, port))
server.listen(64)
held = []
while True:
    client, _ = server.accept()
    held.append(client)  # never closed: the client must give up on its own
    if mode == "banner":
        client.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        time.sleep(0.05)
    marker.touch()
