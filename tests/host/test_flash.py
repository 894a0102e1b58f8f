"""``perifacial flash``: build with mpy-cross, plan, and the copy/verify logic against a fake mpremote."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perifacial.host import flash as fl

BOARDS = ("pico2w", "picow", "esp32s3")
# native-code architectures each MCU's MicroPython can report (RP2350: armv7m per the rp2 port's frozen-code flags,
# armv7emsp if its build enables the single-precision FPU); flash() checks the real board's answer anyway
PLAUSIBLE_ARCHS = {
    "RP2040": {"armv6m"},
    "RP2350": {"armv6m", "armv7m", "armv7em", "armv7emsp"},
    "ESP32-S3": {"xtensawin"},
}
ARCH_INDEX = {name: i for i, name in enumerate(fl.MPY_ARCHS) if name}

VIPER_MODULE = b"""import micropython

@micropython.viper
def add(a: int, b: int) -> int:
    return a + b
"""


def sys_mpy(arch: str | None, version: int = 6, sub: int = 3) -> int:
    """The ``sys.implementation._mpy`` a board with this native arch reports."""
    return version | (sub << 8) | ((ARCH_INDEX[arch] if arch else 0) << 10)


@pytest.fixture
def fake_modules(monkeypatch):
    """Firmware made of a main.py, a plain module and a module with viper code (native code in the .mpy)."""
    mods = [("fast.py", VIPER_MODULE), ("main.py", b"import fast\n"), ("plain.py", b"X = 1\n")]
    monkeypatch.setattr(fl, "firmware_modules", lambda: list(mods))
    monkeypatch.setattr(fl, "board_spec", fake_spec)
    return mods


def fake_spec(board: str) -> fl.BoardSpec:
    """A stand-in board profile, so these tests do not depend on the real ones (tested above/below)."""
    if board not in fl.BOARDS:
        raise fl.FlashError(f"unknown board {board!r}")
    prof = {"board": board, "pins": {"sck": 18}}
    return fl.BoardSpec(
        board, fl.BOARDS[board]["mcu"], fl.BOARDS[board]["arch"], "test", prof, json.dumps(prof).encode()
    )


class FakeBoard:
    """Plays mpremote + a MicroPython board: keeps a file system, answers the probe, clean and hash snippets."""

    def __init__(
        self,
        arch: str | None,
        *,
        version=6,
        sub=3,
        free=1_000_000,
        corrupt: str | None = None,
        drop: str | None = None,
        files: dict[str, bytes] | None = None,
    ):
        self.mpy = sys_mpy(arch, version, sub)
        self.free = free
        self.corrupt = corrupt
        self.drop = drop
        self.files: dict[str, bytes] = dict(files or {})
        self.calls: list[list[str]] = []

    def __call__(self, args):
        args = list(args)
        self.calls.append(args)
        assert args[:2] == ["connect", "/dev/ttyFAKE"], args
        cmd = args[2:]
        out = ""
        if cmd[0] == "exec":
            code = cmd[1]
            marker = next((ln for ln in code.splitlines() if ln.startswith("# perifacial:")), None)
            if marker is None:  # the probe
                assert "sys.implementation" in code
                out = fl._MARK + json.dumps(
                    {
                        "mpy": self.mpy,
                        "machine": "Fake with RP2",
                        "platform": "rp2",
                        "version": "3.4.0; MicroPython v1.29.0",
                        "free": self.free,
                    }
                )
            else:
                kind, names = marker[len("# perifacial:") :].split(" ", 1)
                names = json.loads(names)
                if kind == "clean":
                    gone = [n for n in names if self.files.pop(n, None) is not None]
                    out = fl._MARK + json.dumps(gone)
                elif kind == "hash":
                    ans = {n: (hashlib.sha256(self.files[n]).hexdigest() if n in self.files else None) for n in names}
                    out = fl._MARK + json.dumps(ans)
                else:  # pragma: no cover
                    raise AssertionError(kind)
        elif cmd[:2] == ["fs", "cp"]:
            assert cmd[-1] == ":"
            for src in cmd[2:-1]:
                name = Path(src).name
                data = Path(src).read_bytes()
                if name == self.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                if name != self.drop:
                    self.files[name] = data
        elif cmd == ["reset"]:
            pass
        else:  # pragma: no cover
            raise AssertionError(cmd)
        return subprocess.CompletedProcess(["mpremote", *args], 0, out + "\n", "")


# ------------------------------------------------------------------------------------------ real firmware + profiles
@pytest.mark.parametrize("board", BOARDS)
def test_dry_run_compiles_every_firmware_module_for_each_board(board, tmp_path):
    spec = fl.board_spec(board)
    assert spec.arch in PLAUSIBLE_ARCHS[spec.mcu]
    lines: list[str] = []
    res = fl.flash("/dev/ttyUNUSED", board, dry_run=True, build_dir=tmp_path, out=lines.append)
    text = "\n".join(lines)
    modules = [name for name, _ in fl.firmware_modules()]
    assert modules and "__init__.py" not in modules
    names = {f.name for f in res.plan.files}
    for m in modules:
        expect = m if m in fl.SOURCE_ONLY else m[:-3] + ".mpy"
        assert expect in names, f"{m} not in the plan"
        assert "/" + expect in text
        f = next(f for f in res.plan.files if f.name == expect)
        assert f.size == (tmp_path / expect).stat().st_size
        assert f.sha256 == hashlib.sha256((tmp_path / expect).read_bytes()).hexdigest()
        assert f.sha256 in text
        if f.kind == "mpy":
            ver, _sub, arch = fl.read_mpy_header(f.path.read_bytes())
            assert ver == 6 and arch in (None, spec.arch)
    assert "board.json" in names
    assert (tmp_path / "board.json").read_bytes() == spec.profile_bytes
    assert f"-march={spec.arch}" in text and "dry run" in text
    assert "fs cp" in text and "reset" in text and "perifacial:hash" in text


def test_board_profiles_are_packaged_json_objects(tmp_path):
    for board in BOARDS:
        spec = fl.board_spec(board)
        assert isinstance(spec.profile, dict) and spec.profile
        assert spec.mcu == fl.BOARDS[board]["mcu"] == spec.profile.get("mcu", spec.mcu)
    # --link merges into the profile's own link section
    spec = fl.board_spec("esp32s3")
    files, _, _ = fl.compile_firmware(spec, tmp_path, link={"type": "tcp", "tcp_port": 5000})
    link = json.loads((tmp_path / "board.json").read_text())["link"]
    assert link["type"] == "tcp" and link["tcp_port"] == 5000
    assert {k: v for k, v in link.items() if k not in ("type", "tcp_port")} == {
        k: v for k, v in spec.profile.get("link", {}).items() if k not in ("type", "tcp_port")
    }


# -------------------------------------------------------------------------------------------- build, synthetic sources
@pytest.mark.parametrize("board,arch", [("picow", "armv6m"), ("pico2w", "armv7m"), ("esp32s3", "xtensawin")])
def test_build_uses_the_board_arch_and_keeps_main_as_source(board, arch, tmp_path, fake_modules):
    plan = fl.make_plan("/dev/ttyFAKE", board, tmp_path)
    by = {f.name: f for f in plan.files}
    assert set(by) == {"fast.mpy", "main.py", "plain.mpy", "board.json", "montage.json"}
    # the interlock's montage: the shipped regions' channels and references, as the firmware reads them
    from perifacial.firmware import interlock
    from perifacial.host.sim.virtual_board import _load_montage

    compact = json.loads(by["montage.json"].path.read_text())
    assert interlock.electrode_map(compact, 24) == interlock.electrode_map(_load_montage(), 24)
    assert by["main.py"].kind == "py" and by["main.py"].path.read_bytes() == b"import fast\n"
    assert fl.read_mpy_header(by["fast.mpy"].path.read_bytes()) == (6, plan.mpy_version[1], arch)
    assert fl.read_mpy_header(by["plain.mpy"].path.read_bytes())[2] is None  # bytecode only
    assert plan.mpy_version[0] == 6
    assert "native code in fast.mpy" in fl.describe_plan(plan)


def test_profile_arch_field_overrides_the_table(tmp_path, fake_modules, monkeypatch):
    monkeypatch.setattr(fl, "board_spec", lambda b: fl.BoardSpec(b, "RP2350", "armv7emsp", "test", {}, b"{}"))
    plan = fl.make_plan("/dev/ttyFAKE", "pico2w", tmp_path)
    fast = next(f for f in plan.files if f.name == "fast.mpy")
    assert fl.read_mpy_header(fast.path.read_bytes())[2] == "armv7emsp"
    assert fl._arch_from_profile({"mpy_arch": "-march=armv6m"}) == "armv6m"
    assert fl._arch_from_profile({"arch": "xtensawin"}) == "xtensawin"
    assert fl._arch_from_profile({}) is None


def test_link_section_and_wifi_file(tmp_path, fake_modules):
    link = {"type": "tcp", "tcp_port": 5555}
    wifi = {"ssid": "lab", "password": "secret-pw"}
    lines: list[str] = []
    res = fl.flash("/dev/ttyFAKE", "esp32s3", link=link, wifi=wifi, dry_run=True, build_dir=tmp_path, out=lines.append)
    assert json.loads((tmp_path / "board.json").read_text())["link"] == link
    assert json.loads((tmp_path / "wifi.json").read_text()) == wifi
    text = "\n".join(lines)
    wf = next(f for f in res.plan.files if f.name == "wifi.json")
    assert "secret-pw" not in text and wf.sha256 not in text and "/wifi.json" in text  # no password, no hash
    assert '"lab"' in text


def test_unknown_board_and_broken_compiler(tmp_path, fake_modules, monkeypatch):
    with pytest.raises(fl.FlashError, match="unknown board 'uno'"):
        fl.board_spec("uno")
    monkeypatch.setattr(fl, "firmware_modules", lambda: [("bad.py", b"def f(:\n")])
    with pytest.raises(fl.FlashError, match="mpy-cross failed on firmware/bad.py"):
        fl.make_plan("/dev/ttyFAKE", "picow", tmp_path)
    monkeypatch.setenv("PERIFACIAL_MPY_CROSS", str(tmp_path / "no-such-mpy-cross"))
    with pytest.raises(fl.FlashError, match="cannot run mpy-cross"):
        fl.make_plan("/dev/ttyFAKE", "picow", tmp_path / "b")


# ---------------------------------------------------------------------------------------------- flash against a fake
def test_flash_copies_verifies_resets_and_identifies(tmp_path, fake_modules):
    board = FakeBoard("armv6m", files={"plain.py": b"old source", "main.py": b"old main", "keep.txt": b"x"})
    seen = []
    res = fl.flash(
        "/dev/ttyFAKE",
        "picow",
        runner=board,
        build_dir=tmp_path,
        out=lambda s: None,
        identifier=lambda url: seen.append(url) or {"firmware": "perifacial", "chips": 3},
        wait_for_port=lambda port, timeout: seen.append(("wait", port)),
    )
    kinds = [c[2] if c[2] != "fs" else "fs cp" for c in board.calls]
    assert kinds == ["exec", "exec", "fs cp", "exec", "reset"]
    assert res.removed == ["plain.py"]  # stale source would shadow plain.mpy
    assert set(board.files) == {"fast.mpy", "main.py", "plain.mpy", "board.json", "montage.json", "keep.txt"}
    assert board.files["main.py"] == b"import fast\n"
    assert seen == [("wait", "/dev/ttyFAKE"), "/dev/ttyFAKE"] and res.identity == {"firmware": "perifacial", "chips": 3}
    cp = board.calls[2]
    assert cp[-1] == ":" and sorted(Path(p).name for p in cp[4:-1]) == sorted(f.name for f in res.plan.files)


def test_hash_mismatch_is_a_clear_error(tmp_path, fake_modules):
    board = FakeBoard("armv6m", corrupt="fast.mpy")
    with pytest.raises(fl.FlashError) as exc:
        fl.flash("/dev/ttyFAKE", "picow", runner=board, build_dir=tmp_path, out=lambda s: None, identify=False)
    msg = str(exc.value)
    assert "hash mismatch" in msg and "/fast.mpy: board " in msg and "expected" in msg
    assert "plain.mpy" not in msg  # only the bad file is named
    assert ["connect", "/dev/ttyFAKE", "reset"] not in board.calls  # never reset into a broken install


def test_missing_file_after_copy_is_reported(tmp_path, fake_modules):
    board = FakeBoard("armv6m", drop="board.json")
    with pytest.raises(fl.FlashError, match=r"/board.json: missing on the board"):
        fl.flash("/dev/ttyFAKE", "picow", runner=board, build_dir=tmp_path, out=lambda s: None, identify=False)


@pytest.mark.parametrize(
    "board_arch,version,sub,match",
    [
        ("armv6m", 6, 3, "-march=armv7m"),  # a Pico W (RP2040) flashed as pico2w
        ("xtensawin", 6, 3, "-march=armv7m"),
        ("armv7m", 6, 1, r"loads .mpy v6.1, the build is v6.3"),
        ("armv7m", 5, 0, r"loads .mpy v5.0"),
    ],
)
def test_incompatible_board_is_refused_before_copying(tmp_path, fake_modules, board_arch, version, sub, match):
    board = FakeBoard(board_arch, version=version, sub=sub)
    with pytest.raises(fl.FlashError, match=match):
        fl.flash("/dev/ttyFAKE", "pico2w", runner=board, build_dir=tmp_path, out=lambda s: None)
    assert len(board.calls) == 1  # only the probe ran


def test_newer_arm_board_accepts_older_arm_code_and_space_is_checked(tmp_path, fake_modules):
    board = FakeBoard("armv7emsp")  # an RP2350 build that reports armv7emsp still loads armv7m code
    fl.flash("/dev/ttyFAKE", "pico2w", runner=board, build_dir=tmp_path, out=lambda s: None, identify=False)
    small = FakeBoard("armv7m", free=100)
    with pytest.raises(fl.FlashError, match="bytes free"):
        fl.flash("/dev/ttyFAKE", "pico2w", runner=small, build_dir=tmp_path / "b", out=lambda s: None)


def test_arch_rules():
    assert fl.arch_compatible(None, None)
    assert fl.arch_compatible("armv6m", "armv7emsp")
    assert not fl.arch_compatible("armv7emsp", "armv7m")
    assert not fl.arch_compatible("xtensawin", "xtensa")
    assert fl.decode_sys_mpy(sys_mpy("xtensawin")) == (6, 3, "xtensawin")


def test_mpremote_failure_and_garbage_answers(tmp_path, fake_modules):
    def failing(args):
        return subprocess.CompletedProcess(args, 1, "", "mpremote: failed to access /dev/ttyFAKE")

    with pytest.raises(fl.FlashError, match=r"(?s)mpremote failed while probing the board .*failed to access"):
        fl.flash("/dev/ttyFAKE", "picow", runner=failing, build_dir=tmp_path, out=lambda s: None)

    def garbage(args):
        return subprocess.CompletedProcess(args, 0, "Traceback: no json\n", "")

    with pytest.raises(fl.FlashError, match="unexpected answer from the board"):
        fl.flash("/dev/ttyFAKE", "picow", runner=garbage, build_dir=tmp_path / "b", out=lambda s: None)


def test_tcp_link_skips_identify_unless_a_url_is_given(tmp_path, fake_modules):
    link = {"type": "tcp"}
    res = fl.flash(
        "/dev/ttyFAKE",
        "picow",
        link=link,
        runner=FakeBoard("armv6m"),
        build_dir=tmp_path,
        out=lambda s: None,
        identifier=lambda url: pytest.fail("must not identify"),
    )
    assert "identify skipped" in res.identify_note and "--check-url" in res.identify_note
    res = fl.flash(
        "/dev/ttyFAKE",
        "picow",
        link=link,
        runner=FakeBoard("armv6m"),
        build_dir=tmp_path / "b",
        out=lambda s: None,
        check_url="tcp://10.0.0.7:5555",
        identifier=lambda url: {"url": url},
    )
    assert res.identity == {"url": "tcp://10.0.0.7:5555"}


def test_missing_mpremote_is_a_clear_error(tmp_path, monkeypatch, fake_modules):
    monkeypatch.delenv("PERIFACIAL_MPREMOTE", raising=False)
    monkeypatch.setattr(fl.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(fl.FlashError, match=re.escape("mpremote is not installed: pip install 'perifacial[flash]'")):
        fl.flash("/dev/ttyFAKE", "picow", build_dir=tmp_path)


# ------------------------------------------------------------------------------------------------------------- CLI
FAKE_MPREMOTE = textwrap.dedent(
    """
    import hashlib, json, os, sys
    state = os.environ["FAKE_MPREMOTE_STATE"]
    files_dir = os.path.join(state, "device")
    os.makedirs(files_dir, exist_ok=True)
    with open(os.path.join(state, "calls.jsonl"), "a") as log:
        log.write(json.dumps(sys.argv[1:]) + "\\n")
    args = sys.argv[1:]
    assert args[0] == "connect"
    cmd = args[2:]
    MARK = "PERIFACIAL:"
    if cmd[0] == "exec":
        code = cmd[1]
        marker = [ln for ln in code.splitlines() if ln.startswith("# perifacial:")]
        if not marker:
            print(MARK + json.dumps({"mpy": int(os.environ["FAKE_MPY"]), "machine": "fake", "free": 10**6}))
        else:
            kind, names = marker[0][len("# perifacial:"):].split(" ", 1)
            names = json.loads(names)
            if kind == "clean":
                print(MARK + "[]")
            else:
                out = {}
                for n in names:
                    p = os.path.join(files_dir, n)
                    out[n] = hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.exists(p) else None
                    if n == os.environ.get("FAKE_CORRUPT") and out[n]:
                        out[n] = "0" * 64
                print(MARK + json.dumps(out))
    elif cmd[:2] == ["fs", "cp"]:
        for src in cmd[2:-1]:
            with open(src, "rb") as f, open(os.path.join(files_dir, os.path.basename(src)), "wb") as g:
                g.write(f.read())
    elif cmd == ["reset"]:
        pass
    else:
        sys.exit("unknown command %r" % cmd)
    """
)


def _cli(monkeypatch, argv):
    from perifacial import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("perifacial.commands.flash",))
    return cli.main(argv)


def test_cli_flash_with_a_fake_mpremote_on_the_command_line(tmp_path, monkeypatch, capsys, fake_modules):
    script = tmp_path / "fake_mpremote.py"
    script.write_text(FAKE_MPREMOTE)
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("PERIFACIAL_MPREMOTE", f"{sys.executable} {script}")
    monkeypatch.setenv("FAKE_MPREMOTE_STATE", str(state))
    monkeypatch.setenv("FAKE_MPY", str(sys_mpy("xtensawin")))
    rc = _cli(
        monkeypatch,
        ["flash", "/dev/ttyFAKE", "--board", "esp32s3", "--no-identify", "--build-dir", str(tmp_path / "build")],
    )
    assert rc == 0, capsys.readouterr().err
    calls = [json.loads(ln) for ln in (state / "calls.jsonl").read_text().splitlines()]
    assert [c[2] for c in calls] == ["exec", "exec", "fs", "exec", "reset"]
    assert sorted(os.listdir(state / "device")) == ["board.json", "fast.mpy", "main.py", "montage.json", "plain.mpy"]
    assert "verified" in capsys.readouterr().out

    monkeypatch.setenv("FAKE_CORRUPT", "plain.mpy")
    rc = _cli(monkeypatch, ["flash", "/dev/ttyFAKE", "--board", "esp32s3", "--no-identify"])
    err = capsys.readouterr().err
    assert rc == 2 and "perifacial flash: error: hash mismatch" in err and "/plain.mpy" in err


def test_cli_dry_run_and_option_errors(tmp_path, monkeypatch, capsys, fake_modules):
    dry = ["flash", "/dev/null", "--board", "picow", "--dry-run"]
    rc = _cli(monkeypatch, [*dry, *"--link tcp --wifi-ssid lab --wifi-password pw-1234 --tcp-port 4300".split()])
    out = capsys.readouterr().out
    assert rc == 0 and "fast.mpy" in out and "-march=armv6m" in out and '"tcp_port": 4300' in out
    assert '"lab"' in out and "pw-1234" not in out and "/wifi.json" in out
    monkeypatch.setenv("PERIFACIAL_WIFI_PASSWORD", "env-pw")
    rc = _cli(monkeypatch, [*dry, "--wifi-ssid", "lab", "--build-dir", str(tmp_path / "kept")])
    assert rc == 0 and json.loads((tmp_path / "kept" / "wifi.json").read_text())["password"] == "env-pw"
    assert json.loads((tmp_path / "kept" / "board.json").read_text())["link"] == {"type": "tcp"}
    capsys.readouterr()
    rc = _cli(monkeypatch, [*dry, "--link", "tcp"])
    assert rc == 2 and "--link tcp needs --wifi-ssid" in capsys.readouterr().err
    rc = _cli(monkeypatch, [*dry, "--link", "usb", "--wifi-ssid", "x"])
    assert rc == 2 and "only apply to --link tcp" in capsys.readouterr().err
    rc = _cli(monkeypatch, [*dry, "--ble-name", "pf1", "--build-dir", str(tmp_path / "ble")])
    link = json.loads((tmp_path / "ble" / "board.json").read_text())["link"]
    assert rc == 0 and link == {"type": "ble", "ble_name": "pf1"}
    assert not (tmp_path / "ble" / "wifi.json").exists()


def test_firmware_holding_the_port_is_asked_to_step_aside(tmp_path, fake_modules):
    board = FakeBoard("armv6m")
    state = {"blocked": True}

    def runner(args):
        if state["blocked"]:
            return subprocess.CompletedProcess(args, 1, "", "mpremote: could not enter raw repl")
        return board(args)

    def breaker(port):
        state["blocked"] = False
        return "ok"

    fl.flash(
        "/dev/ttyFAKE", "picow", runner=runner, build_dir=tmp_path, out=lambda s: None, identify=False, breaker=breaker
    )
    assert "board.json" in board.files
    with pytest.raises(fl.FlashError, match="cannot enter the raw REPL.*nope"):
        fl._probe(
            lambda a: subprocess.CompletedProcess(a, 1, "", "could not enter raw repl"),
            ["x"],
            "/dev/ttyFAKE",
            lambda p: "nope",
            lambda s: None,
            retries=2,
            delay=0.0,
        )


def test_identify_board_against_the_virtual_board():
    info = fl.identify_board("sim://", timeout=20.0)
    assert info.get("name") == "perifacial" and info.get("firmware") and info.get("channels") == 24
    with pytest.raises(fl.FlashError, match="did not answer identify"):
        fl.identify_board("tcp://127.0.0.1:9", timeout=0.1)  # nothing listens on the discard port
