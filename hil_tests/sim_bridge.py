"""Serve the virtual board over TCP in real time, so the suite's real-board code paths (``tcp://``: wall-clock
pacing, closing and reopening the link, no fault injection) can be rehearsed without hardware:

    python hil_tests/sim_bridge.py --port 8765 &
    python -m pytest hil_tests --board tcp://127.0.0.1:8765

One client at a time. While no client is connected the board keeps running with no peer on its link (it drops and
counts frames, like a board whose host went away); bytes not yet sent when a client disconnects are discarded.
"""
from __future__ import annotations

import argparse
import select
import socket
import sys


def serve(port: int, host: str = "127.0.0.1", seed: int = 1, rate: int = 1000, clock_error_ppm: float = 0.0,
          ready=None) -> None:
    from perifacial.host.sim.virtual_board import VirtualBoard

    vb = VirtualBoard(rate=rate, seed=seed, clock_error_ppm=clock_error_ppm, realtime=True)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(1)
    srv.setblocking(False)
    if ready is not None:
        ready(srv.getsockname()[1])
    conn = None
    vb.link.up = False
    while True:
        if conn is None:
            r, _, _ = select.select([srv], [], [], 0.0)
            if r:
                conn, _ = srv.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                vb.link.to_host.clear()
                vb.link.up = True
        data = vb.read(1 << 16, timeout=0.005)
        if conn is None:
            continue
        try:
            if data:
                conn.sendall(data)
            r, _, _ = select.select([conn], [], [], 0.0)
            if r:
                got = conn.recv(1 << 16)
                if not got:
                    raise ConnectionError("client closed")
                vb.write(got)
        except OSError:
            conn.close()
            conn = None
            vb.link.up = False
            vb.link.to_host.clear()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--clock-error-ppm", type=float, default=0.0)
    a = p.parse_args(argv)
    try:
        serve(a.port, a.host, a.seed, a.rate, a.clock_error_ppm,
              ready=lambda port: print(f"virtual board on tcp://{a.host}:{port}", file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
