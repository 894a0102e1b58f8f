"""The virtual board served over TCP on localhost (`perifacial serve`) with the firmware's own authenticated link:
strangers get nothing, wrong keys and replays are refused, one owner, and a paired `perifacial record tcp://` is
gapless. Real sockets: deadlines are generous and only bound waits (nothing asserts how long anything took)."""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import stat
import subprocess
import sys
import threading

import pytest

from perifacial.firmware import auth, wire
from perifacial.host.board import open_board
from perifacial.host.pairing import AuthError, keys_dir, load_key
from perifacial.host.serve import make_served_board
from perifacial.host.transport import open_transport

DEADLINE = 30.0  # seconds; only ever a bound on a wait


@pytest.fixture()
def keys(tmp_path, monkeypatch):
    d = tmp_path / "keys"
    monkeypatch.setenv("PERIFACIAL_KEYS_DIR", str(d))
    monkeypatch.delenv("PERIFACIAL_KEY", raising=False)
    return d


@pytest.fixture()
def served(keys):
    s = make_served_board("sim://?seed=4", "127.0.0.1", 0, auth_timeout_ms=500)
    th = threading.Thread(target=s.run, daemon=True)
    th.start()
    yield s
    s.stop()
    th.join(DEADLINE)


def _raw(served) -> socket.socket:
    c = socket.create_connection(("127.0.0.1", served.port), timeout=DEADLINE)
    return c


def _line(c: socket.socket) -> bytes:
    out = b""
    while not out.endswith(b"\n"):
        b = c.recv(1)
        if not b:
            break
        out += b
    return out


def _until_closed(c: socket.socket) -> bytes:
    out = b""
    c.settimeout(DEADLINE)
    while True:
        try:
            b = c.recv(4096)
        except (TimeoutError, ConnectionResetError):
            break
        if not b:
            break
        out += b
    c.close()
    return out


def _answer(hello: bytes, key: bytes) -> bytes:
    _, bid, nb = hello.strip().split(b" ")
    nh = os.urandom(16).hex().encode()
    return nh + b" " + hmac.new(key, auth.host_msg(bid, nb, nh), hashlib.sha256).hexdigest().encode() + b"\n"


def test_serving_pairs_this_host_key_file_is_private(served, keys):
    path = keys / (served.board_id + ".key")
    assert served.key_file == path and path.exists() and keys_dir() == keys
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(served.board_id) == served.board.app.auth.key


def test_stranger_gets_no_data_and_no_command_runs(served):
    owner = open_board(served.url)
    owner.start()
    app = served.board.app
    bad0 = app.bad_commands
    c = _raw(served)
    hello = _line(c)
    assert hello.startswith(b"PFAUTH1 " + served.board_id.encode() + b" ")
    for i, (name, args) in enumerate((("stop", {}), ("set_config", {"mux": "test", "gain": 1}), ("repl", {}))):
        c.sendall(
            wire.encode(
                wire.T_COMMAND,
                i,
                (
                    '{"id": %d, "cmd": "%s"%s}'
                    % (
                        i + 1,
                        name,
                        "".join(', "%s": %s' % (k, '"test"' if isinstance(v, str) else v) for k, v in args.items()),
                    )
                ).encode(),
            )
        )
    rest = _until_closed(c)  # the board closes it (bad line or timeout) and sends no frame
    assert b"\xa5\x5a" not in rest and rest.startswith(b"DENIED")
    n = 0
    gaps = 0
    for blk in owner.blocks(duration_s=0.5):
        n += blk.n
        gaps += blk.gap_before
    assert app.running and not app.exit_requested and served.board.reboots == 0
    assert app.config["gain"] == [24] * 24 and app.config["mux"] == ["normal"] * 24
    assert app.bad_commands == bad0  # the stranger's bytes were never parsed as commands
    assert n >= 500 and gaps == 0 and owner.gaps == []
    owner.stop()
    owner.close()


def test_wrong_key_and_replayed_response_refused(served):
    with pytest.raises(AuthError) as ei:
        open_transport(served.url, key=bytes(32))
    msg = str(ei.value)
    assert served.board_id in msg and "perifacial pair" in msg and "refused the key" in msg
    with pytest.raises(AuthError, match="must be 32 bytes"):
        open_transport(served.url + "?key=abcd")
    key = load_key(served.board_id)
    c = _raw(served)
    recorded = _answer(_line(c), key)
    c.sendall(recorded)
    assert _line(c).startswith(b"OK ")
    c.close()
    c2 = _raw(served)
    _line(c2)
    c2.sendall(recorded)  # a response captured on the network, replayed
    assert _until_closed(c2) == b"DENIED wrong key\n"
    st = served.board.app.auth.stats()
    assert st["wrong_key"] == 2 and st["accepted"] == 1
    # ?key= with the right key works (rigs)
    t = open_transport(served.url + "?key=" + key.hex())
    assert t.board_id == served.board_id
    t.close()


def test_idle_squatter_does_not_block_the_owner_and_a_second_owner_is_refused(served):
    squatter = _raw(served)  # connects first and sends nothing
    assert _line(squatter).startswith(b"PFAUTH1")
    with open_board(served.url) as b:  # the researcher gets in anyway
        b.start()
        n = sum(blk.n for blk in b.blocks(duration_s=0.3))
        assert n >= 300
        with pytest.raises(AuthError, match="refused the session: busy"):
            open_transport(served.url)
        b.stop()
    assert _until_closed(squatter) == b"DENIED timeout\n"


def test_waiting_connection_does_not_take_over_after_a_drop(served):
    owner = open_board(served.url)
    owner.start()
    waiter = _raw(served)
    assert _line(waiter).startswith(b"PFAUTH1")
    owner.transport.close()  # the owner's link drops while acquisition runs
    got = _until_closed(waiter)
    assert got == b"DENIED timeout\n"  # nothing but the refusal: no frame ever reached it
    st = served.board.app.auth.stats()
    assert st["accepted"] == 1 and st["timeouts"] == 1


def test_unpaired_board_says_how_to_pair(keys):
    s = make_served_board("sim://?seed=6", "127.0.0.1", 0, pair_host=False)
    th = threading.Thread(target=s.run, daemon=True)
    th.start()
    try:
        with pytest.raises(AuthError, match="no pairing key yet.*perifacial pair"):
            open_transport(s.url)
    finally:
        s.stop()
        th.join(DEADLINE)


def test_cli_serve_then_record_tcp_has_zero_gaps(keys, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PERIFACIAL_KEYS_DIR=str(keys))
    proc = subprocess.Popen(
        [sys.executable, "-m", "perifacial", "serve", "sim://?seed=7", "--tcp", f"127.0.0.1:{port}"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        assert "virtual board" in line and f"tcp://127.0.0.1:{port}" in line, line
        out = tmp_path / "s.pfr"
        rec = subprocess.run(
            [
                sys.executable,
                "-m",
                "perifacial",
                "record",
                f"tcp://127.0.0.1:{port}",
                "-o",
                str(out),
                "--seconds",
                "2",
                "--quiet",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert rec.returncode == 0, rec.stderr
        assert "0 gaps" in rec.stdout
        from perifacial.host.recording import load

        r = load(out)
        assert r.gaps == [] and r.data.shape[1] >= 2000
        assert r.info["board"]["bench"] is False and r.info["board"]["board_id"] == "sim-pico2w-7"
    finally:
        proc.terminate()
        proc.wait(DEADLINE)


def test_record_warns_about_bench_mode_and_header_says_so(served, tmp_path, capsys):
    from perifacial.cli import main
    from perifacial.host.recording import load

    served.board.app.bench = True  # set over USB before the board went on the network (bench is USB-only)
    out = tmp_path / "bench.pfr"
    rc = main(["record", served.url, "-o", str(out), "--seconds", "0.5", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0 and "BENCH mode" in err and served.board_id in err and "No participant" in err
    assert load(out).info["board"]["bench"] is True


def test_cli_pair_over_usb_only(keys, capsys):
    from perifacial.cli import main

    assert main(["pair", "tcp://127.0.0.1:9"]) == 2
    assert "USB only" in capsys.readouterr().err
    assert main(["pair", "sim://?seed=9"]) == 0  # the in-process virtual board stands for a USB-attached one
    out = capsys.readouterr().out
    assert "paired board sim-pico2w-9" in out
    path = keys / "sim-pico2w-9.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(load_key("sim-pico2w-9")) == 32
