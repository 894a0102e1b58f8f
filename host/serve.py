"""Serve the virtual board over TCP on this machine, with the firmware's own authenticated TCP link.

>>> from perifacial.host.serve import serve_virtual
>>> serve_virtual("sim://?seed=1", "127.0.0.1", 4242)      # until Ctrl-C; `perifacial serve` is the CLI

The firmware (:class:`perifacial.firmware.app.App` on the ADS1299 model) runs paced to the wall clock and talks
through :class:`perifacial.firmware.links.TcpLink` on a real socket, so rigs and tests exercise the board's pairing,
challenge-response, single-owner and keepalive code. Serving pairs the machine it runs on: the board gets a new random
key and the host key store (:mod:`perifacial.host.pairing`) gets the same key under the board's id, as
``perifacial pair`` would, so ``perifacial record tcp://HOST:PORT`` works with no extra step.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

__all__ = ["ServedBoard", "make_served_board", "serve_virtual"]


@dataclass
class ServedBoard:
    """A virtual board behind a listening TcpLink. ``board`` is the VirtualBoard, ``link`` the firmware's TcpLink."""

    board: object
    link: object
    host: str
    port: int
    board_id: str
    key_file: object = None
    stop_event: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def run(self, idle_s: float = 0.002) -> None:
        """Keep the board running in real time until :meth:`stop`."""
        vb = self.board
        try:
            while not self.stop_event.is_set():
                vb.keep_pace()
                time.sleep(idle_s)
        finally:
            self.close()

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        link = self.link
        for c in [p[0] for p in link.pending] + ([link.conn] if link.conn is not None else []):
            try:
                c.close()
            except OSError:
                pass
        link.pending = []
        link.conn = None
        try:
            link.srv.close()
        except OSError:
            pass


def make_served_board(
    url: str = "sim://",
    host: str = "127.0.0.1",
    port: int = 4242,
    *,
    pair_host: bool = True,
    remote_admin: bool = False,
    auth_timeout_ms: int = 2000,
    keepalive_ms: int = 3000,
    **board_options,
) -> ServedBoard:
    """Build the virtual board of ``url`` (a ``sim://`` URL and its options) listening on ``host:port`` (0: any
    free port). ``pair_host``: give it a new key and store the key for this host (as ``perifacial pair``)."""
    from perifacial.firmware.links import TcpLink
    from perifacial.host.sim.virtual_board import VirtualBoard
    from perifacial.host.transport import TransportOpenError, sim_options

    parts = urlsplit(url)
    if parts.scheme.lower() != "sim":
        raise TransportOpenError(
            f"{url!r}: only the virtual board (sim://...) can be served; a real board serves "
            "its own TCP link (flash it with --link tcp)"
        )
    opts = sim_options(parts.query)
    opts.pop("realtime", None)
    opts.update(board_options)
    try:
        link = TcpLink(port, socket_mod=socket, host=host, auth_timeout_ms=auth_timeout_ms, keepalive_ms=keepalive_ms)
    except OSError as exc:
        raise TransportOpenError(
            f"cannot listen on {host}:{port}: {exc} (port in use? try another --tcp port)"
        ) from exc
    vb = VirtualBoard(link=link, link_name="tcp", **opts)
    board_id = vb.app.auth.board_id.decode()
    served = ServedBoard(vb, link, host, link.srv.getsockname()[1], board_id)
    if pair_host:
        from perifacial.host.pairing import new_key, save_key

        key = new_key()
        vb.app.auth.pair(key.hex(), remote_admin)
        served.key_file = save_key(board_id, key)
    return served


def serve_virtual(
    url: str = "sim://",
    host: str = "127.0.0.1",
    port: int = 4242,
    ready: Callable[[ServedBoard], None] | None = None,
    **kw,
) -> None:
    """Serve until interrupted (KeyboardInterrupt ends it quietly); ``ready(served)`` once listening."""
    served = make_served_board(url, host, port, **kw)
    if ready is not None:
        ready(served)
    try:
        served.run()
    except KeyboardInterrupt:
        pass
