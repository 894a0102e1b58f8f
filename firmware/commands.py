# JSON command dispatch. A COMMAND frame's payload is {"id": <int>, "cmd": "<name>", ...arguments}; every command
# gets exactly one RESPONSE: {"id": <id>, "ok": true, ...results} or {"id": <id or null>, "ok": false, "error": "..."}.
# See firmware/WIRE.md for the list with arguments and replies.
import json

try:
    from . import selftest, wire
except ImportError:
    import selftest  # type: ignore[no-redef]
    import wire  # type: ignore[no-redef]


MAX_ERROR = 400  # characters of an error text (the rest is cut and marked)
ID_LIMIT = 0x80000000  # command ids are echoed: at most 32 bits, so no reply grows with the id


def clip(text, n):
    """``text`` cut to at most ``n`` characters, the cut marked with '...'."""
    return text if len(text) <= n else text[: n - 3] + "..."


class CommandError(Exception):
    pass


class Commands:
    def __init__(self, app):
        self.app = app
        self.table = {
            "identify": self.identify,
            "version": self.version,
            "help": self.help,
            "get_config": self.get_config,
            "set_config": self.set_config,
            "start": self.start,
            "stop": self.stop,
            "status": self.status,
            "registers": self.registers,
            "selftest": self.selftest,
            "leadoff": self.leadoff,
            "impedance": self.impedance,
            "display": self.display,
            "marker": self.marker,
            "reboot": self.reboot,
            "repl": self.repl,
            "ping": self.ping,
            "pair": self.pair,
            "bench": self.bench,
        }
        self.names = sorted(self.table)

    def error(self, cid, text, bad=True):
        """Send an error RESPONSE. Bounded whatever the input: the text is cut to MAX_ERROR characters (JSON escaping
        can grow a character to 6 bytes, so a reply stays far below wire.MAX_PAYLOAD)."""
        if bad:
            self.app.bad_commands += 1
        self.app.framer.response({"id": cid, "ok": False, "error": clip(text, MAX_ERROR)})

    def handle(self, payload):
        """Dispatch one COMMAND payload (bytes) and send its RESPONSE."""
        try:
            msg = json.loads(payload)
        except Exception as e:  # ValueError on both runtimes; UnicodeError on CPython
            self.error(None, "malformed command: not JSON (%s)" % clip(str(e), 80))
            return
        if not isinstance(msg, dict):
            self.error(None, "malformed command: expected a JSON object")
            return
        cid = msg.get("id")
        if cid is not None and (not isinstance(cid, int) or not -ID_LIMIT <= cid < ID_LIMIT):
            self.error(None, "malformed command: 'id' must be an integer of at most 32 bits")
            return
        name = msg.get("cmd")
        if not isinstance(name, str):
            self.error(cid, "malformed command: missing 'cmd' (known: %s)" % ", ".join(self.names))
            return
        fn = self.table.get(name)
        if fn is None:
            self.error(cid, "unknown command %r (known: %s)" % (clip(name, 40), ", ".join(self.names)))
            return
        try:
            out = fn(msg)
        except CommandError as e:
            self.error(cid, "%s: %s" % (name, e.args[0] if e.args else "failed"))
            return
        except Exception as e:  # a bug or a chip fault: reply, keep running
            self.error(cid, "%s: %s: %s" % (name, type(e).__name__, clip(str(e), 200)), bad=False)
            return
        reply = {"id": cid, "ok": True}
        if out:
            reply.update(out)
        self.app.framer.response(reply)
        after = self.app.after_reply
        if after is not None:
            self.app.after_reply = None
            after()

    # -- commands ------------------------------------------------------------------------------------------------------
    def identify(self, msg):
        app = self.app
        return {
            "name": "perifacial",
            "firmware": app.VERSION,
            "wire": wire.VERSION,
            "board": app.profile.get("name", "?"),
            "chips": app.n_chips,
            "channels": app.n_chips * 8,
            "ids": list(app.ads.ids),
            "rates": app.supported_rates(),
            "link": app.link_name,
            "hard_irq": app.hard_irq,
            "acquisition": app.acq_path,
            "fault": app.fault,
            "board_id": app.auth.board_id.decode(),
            "paired": app.auth.key is not None,
            "bench": app.bench,
        }

    def version(self, msg):
        return {"firmware": self.app.VERSION, "wire": wire.VERSION}

    def help(self, msg):
        return {"commands": self.names}

    def get_config(self, msg):
        return {"config": self.app.config_dict()}

    def set_config(self, msg):
        app = self.app
        if app.running:
            raise CommandError("acquisition is running: stop first")
        args = {}
        for k in msg:
            if k not in ("id", "cmd"):
                args[k] = msg[k]
        try:
            app.set_config(args)
        except ValueError as e:
            raise CommandError(e.args[0] if e.args else "bad value")
        return {"config": app.config_dict()}

    def start(self, msg):
        app = self.app
        if app.fault:
            raise CommandError("board fault: " + app.fault)
        if app.running:
            raise CommandError("already running")
        out = {}
        can = getattr(app.link, "can_carry", None)
        if can is not None:
            rate = app.config["rate"]
            need = app.bytes_per_s(rate)
            if not can(need):
                cap = app.link.capacity()
                why = getattr(app.link, "limit", None)
                why = " (" + why + ")" if why else ""
                if not msg.get("lower_rate"):
                    raise CommandError(
                        "link carries about %d B/s%s, %d SPS needs %d B/s: lower the rate (set_config) or send "
                        "start with lower_rate=true" % (cap, why, rate, need)
                    )
                for r in (1000, 500):
                    if r < rate and can(app.bytes_per_s(r)):
                        app.set_config({"rate": r})
                        app.framer.log(wire.LOG_WARNING, "rate lowered from %d to %d SPS for the link" % (rate, r))
                        out["lowered_from"] = rate
                        break
                else:
                    raise CommandError(
                        "link carries about %d B/s%s: even 500 SPS needs %d B/s" % (cap, why, app.bytes_per_s(500))
                    )
        app.start()
        out["first_sample"] = 0
        out["rate"] = app.config["rate"]
        return out

    def stop(self, msg):
        app = self.app
        if not app.running:
            return {"samples": app.acq.count, "was_running": False}
        app.stop()
        return {"samples": app.acq.count, "lost": app.lost(), "was_running": True}

    def status(self, msg):
        app = self.app
        vals = app.status_values()
        app.framer.status(vals)
        out = {}
        for i in range(len(wire.STATUS_FIELDS)):
            out[wire.STATUS_FIELDS[i]] = vals[i]
        out["lost_late"] = app.acq.lost_late
        out["lost_ring_full"] = app.acq.lost_full
        out["drdy_stalls"] = app.stalls
        out["loop_errors"] = app.loop_errors
        out["rx_discarded"] = app.rx_discarded
        out["link_connected"] = bool(app.link.connected())
        out["running"] = vals[8] & wire.STATUS_RUNNING
        out["bench"] = app.bench
        out["auth"] = app.auth.stats()
        return out

    def registers(self, msg):
        app = self.app
        if app.running:
            raise CommandError("acquisition is running: stop first")
        return {"registers": [list(app.ads.read_all(c)) for c in range(app.n_chips)]}

    def _idle_check(self):
        app = self.app
        if app.running:
            raise CommandError("acquisition is running: stop first")
        if app.fault:
            raise CommandError("board fault: " + app.fault)

    def selftest(self, msg):
        self._idle_check()
        return selftest.run(self.app)

    def leadoff(self, msg):
        self._idle_check()
        cur = msg.get("current_na", 6)
        if cur not in (6, 24, 6000, 24000):
            raise CommandError("current_na must be one of 6, 24, 6000, 24000")
        self._interlock(cur)
        return selftest.lead_off(self.app, cur)

    def impedance(self, msg):
        self._idle_check()
        cur = msg.get("current_na", 6)
        if cur not in (6, 24):
            raise CommandError("current_na must be 6 or 24 (AC excitation)")
        self._interlock(cur)
        return selftest.impedance(self.app, cur)

    def display(self, msg):
        app = self.app
        mode = msg.get("mode")
        if mode is not None:
            if mode not in ("board", "host", "off"):
                raise CommandError("mode must be 'board', 'host' or 'off'")
        every = msg.get("every")
        if every is not None and (not isinstance(every, int) or every < 1):
            raise CommandError("every must be a positive integer (samples)")
        value = msg.get("value")
        if value is not None and (not isinstance(value, int) or value < 0):
            raise CommandError("value must be a non-negative integer")
        try:
            return app.set_display(mode, every, value)
        except ValueError as e:
            raise CommandError(e.args[0] if e.args else "bad value")

    def marker(self, msg):
        value = msg.get("value", 0)
        if not isinstance(value, int):
            raise CommandError("value must be an integer")
        return {"sample": self.app.marker(value)}

    def _interlock(self, cur):
        try:
            self.app.check_leadoff(cur)
        except ValueError as e:
            raise CommandError(e.args[0])

    def _local_only(self, what):
        if not self.app.local_link():
            raise CommandError("%s only over USB (this link: %s)" % (what, self.app.link_name))

    def ping(self, msg):
        """Keepalive (wireless links drop an owner that sends nothing for 3 s)."""
        return {}

    def pair(self, msg):
        """USB only: store a new pairing key (hex); ``remote_admin`` true lets repl/reboot run over the air."""
        self._local_only("pairing")
        try:
            self.app.auth.pair(msg.get("key"), bool(msg.get("remote_admin", False)))
        except ValueError as e:
            raise CommandError(e.args[0])
        return {"board_id": self.app.auth.board_id.decode(), "remote_admin": self.app.auth.remote_admin}

    def bench(self, msg):
        """USB only: ``on`` true lifts the lead-off interlock (no participant connected); reported in STATUS."""
        on = msg.get("on")
        if not isinstance(on, bool):
            raise CommandError("on: expected true/false")
        if on:
            self._local_only("bench mode")
        app = self.app
        lo = app.config["lead_off"]
        if not on and lo:
            was = app.bench
            app.bench = False
            try:
                app.check_leadoff(lo["current_na"])
            except ValueError as e:
                app.bench = was
                raise CommandError(
                    "the configured lead-off is over the limit without bench mode (set_config "
                    "lead_off=null first): " + e.args[0]
                )
        app.bench = on
        return {"bench": app.bench}

    def _admin(self, what):
        if not (self.app.local_link() or self.app.auth.remote_admin):
            raise CommandError("%s only over USB (or pair with remote_admin for rigs)" % what)

    def repl(self, msg):
        """Leave the main loop and hand the port back to the REPL (perifacial flash uses it: the USB link disables
        Ctrl-C, so mpremote cannot interrupt the firmware otherwise)."""
        self._admin("repl")
        self.app.after_reply = self.app.leave
        return {"repl": True}

    def reboot(self, msg):
        self._admin("reboot")
        self.app.after_reply = self.app.reboot
        return {"rebooting": True}
