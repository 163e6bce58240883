"""A UDP relay that makes two WireGuard sites' first handshakes cross (e2e tests only).

    python crossing_relay.py LISTEN_HOST PORT_A HOST_A PORT_B HOST_B

Site A is told that site B is at LISTEN_HOST:PORT_B and site B that A is at LISTEN_HOST:PORT_A.
The first two datagrams each way are delivered in pairs: each site's initiation is held until
the other's has arrived, then both go at once; each site answers the other's (which drops its
own pending handshake), and each answer is held until the other's has arrived too. So both
answers are refused, every time: a crossing. (With the initiations paired alone, 1 run in 3
still hand-shook at once: an answer was taken before the other side's initiation.)
Afterwards everything is forwarded as it comes. Prints "ready" once bound.
"""

from __future__ import annotations

import selectors
import socket
import sys

PAIRED_ROUNDS = 2  # the initiations, then the answers


def main(argv: list[str]) -> int:
    listen_host, port_a, host_a, port_b, host_b = argv
    as_a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # B sends here, A receives from it
    as_a.bind((listen_host, int(port_a)))
    as_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    as_b.bind((listen_host, int(port_b)))
    # A datagram arriving at A's stand-in came from B: it leaves by B's stand-in, to A.
    onward = {as_a: (as_b, (host_a, int(port_a))), as_b: (as_a, (host_b, int(port_b)))}
    held: dict[socket.socket, list[bytes]] = {as_a: [], as_b: []}
    paired = 0
    selector = selectors.DefaultSelector()
    for sock in onward:
        selector.register(sock, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            held[sock].append(sock.recv(65535))
            while all(held.values()) and paired < PAIRED_ROUNDS:
                paired += 1
                for source, queue in held.items():
                    _send(onward[source], queue.pop(0))
            if paired == PAIRED_ROUNDS:
                for source, queue in held.items():
                    while queue:
                        _send(onward[source], queue.pop(0))


def _send(onward: tuple[socket.socket, tuple[str, int]], data: bytes) -> None:
    out, to = onward
    out.sendto(data, to)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
