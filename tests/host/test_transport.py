"""Transports: URL dispatch, byte-exact loopback, TCP reconnect, and errors that say what to do."""

from __future__ import annotations

import socket

import pytest
from _fakedevice import FakeDevice, FakeTcpServer

from perifacial.firmware import wire
from perifacial.host.board import Board, BoardError, BoardTimeout, open_board
from perifacial.host.transport import (
    LinkLost,
    SerialTransport,
    TcpTransport,
    TransportOpenError,
    open_transport,
    sim_options,
)


def test_loop_url_is_byte_exact():
    t = open_transport("loop://")
    assert isinstance(t, SerialTransport)
    payload = bytes(range(256)) * 40
    got = b""
    for i in range(0, len(payload), 1000):  # pyserial's loop:// holds 4 KB
        t.write(payload[i : i + 1000])
        while len(got) < min(len(payload), i + 1000):
            chunk = t.read(4096, 0.5)
            assert chunk
            got += chunk
    assert got == payload
    assert t.read(10, 0.01) == b""  # timeout -> empty
    t.close()


def test_board_over_loop_sees_its_own_commands_and_times_out_clearly():
    # a loopback echoes the host's COMMAND frames: the decoder sees them, no response ever comes
    b = Board(open_transport("loop://"), command_timeout=0.2)
    with pytest.raises(BoardTimeout, match="no answer to 'identify'.*firmware running"):
        b.command("identify")
    assert b.stats.commands == 1 and b.stats.crc_errors == 0
    b.close()


def test_missing_serial_port_error_says_what_to_do():
    with pytest.raises(TransportOpenError, match="does not exist: is the board plugged in.*perifacial devices"):
        open_transport("/dev/ttyDOESNOTEXIST0")


def test_refused_tcp_error_says_what_to_do():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(TransportOpenError, match="refused: is the board's TCP server running"):
        open_transport(f"tcp://127.0.0.1:{port}")
    with pytest.raises(TransportOpenError, match="needs a host and a port"):
        open_transport("tcp://localhost")


def test_unknown_scheme_lists_the_choices():
    with pytest.raises(TransportOpenError, match="sim://"):
        open_transport("ftp://x")


def test_sim_query_options_are_typed():
    assert sim_options("seed=1&rate=2000&realtime=0&clock_error=0.002") == {
        "seed": 1,
        "rate": 2000,
        "realtime": False,
        "clock_error": 0.002,
    }


def test_tcp_link_lost_raises_then_reconnects():
    dev = FakeDevice(100)
    srv = FakeTcpServer(dev)
    try:
        t = TcpTransport(srv.url, "127.0.0.1", srv.port, key=srv.KEY)
        srv.drop()
        with pytest.raises(LinkLost, match="closed the connection"):
            for _ in range(200):
                t.read(100, 0.05)
        t.reconnect(5.0)
        t.write(wire.encode(wire.T_COMMAND, 0, b'{"id":1,"cmd":"identify"}'))
        got = b""
        for _ in range(100):
            got += t.read(4096, 0.05)
            if wire.check(got, 0) > 0:
                break
        assert wire.check(got, 0) > 0
        t.close()
    finally:
        srv.close()


def test_board_command_errors_and_response_matching():
    dev = FakeDevice(2000)
    srv = FakeTcpServer(dev)
    try:
        with open_board(srv.url) as b:
            with pytest.raises(BoardError, match="board refused 'nonsense': unknown command"):
                b.command("nonsense")
            b.start()
            # commands while streaming: data keep flowing into the queue, the response is matched by id
            ids = [b.send("marker") for _ in range(3)]
            replies = [b.wait_response(i) for i in reversed(ids)]
            assert [r["id"] for r in replies] == list(reversed(ids))
            blk = b.read_samples(1500)
            assert blk.n == 1500 and blk.first_sample == 0
            assert (blk.codes == dev.codes[:, :1500]).all()
            assert blk.data.shape == (24, 1500) and blk.leadoff.shape == (24, 1500) and not blk.leadoff.any()
    finally:
        srv.close()


def test_link_never_back_raises_with_advice():
    dev = FakeDevice(100000)
    srv = FakeTcpServer(dev)
    b = open_board(srv.url, reconnect_timeout=0.5)
    b.start()
    assert b.read(2.0) is not None
    srv.close()  # server gone for good
    with pytest.raises(LinkLost, match="not back within 0.5 s.*Data received so far is kept"):
        for _ in range(400):
            b.pump(0.02)
    b.transport.close()
