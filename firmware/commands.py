# JSON command dispatch. A COMMAND frame's payload is {"id": <int>, "cmd": "<name>", ...arguments}; every command
# gets exactly one RESPONSE: {"id": <id>, "ok": true, ...results} or {"id": <id or null>, "ok": false, "error": "..."}.
# See firmware/WIRE.md for the list with arguments and replies.
import json

try:
    from . import selftest
    from . import wire
except ImportError:
    import selftest  # type: ignore[no-redef]
    import wire  # type: ignore[no-redef]


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
        }
        self.names = sorted(self.table)

    def error(self, cid, text):
        self.app.bad_commands += 1
        self.app.framer.response({"id": cid, "ok": False, "error": text})

    def handle(self, payload):
        """Dispatch one COMMAND payload (bytes) and send its RESPONSE."""
        try:
            msg = json.loads(payload)
        except Exception as e:  # ValueError on both runtimes; UnicodeError on CPython
            self.error(None, "malformed command: not JSON (%s)" % e)
            return
        if not isinstance(msg, dict):
            self.error(None, "malformed command: expected a JSON object")
            return
        cid = msg.get("id")
        if cid is not None and not isinstance(cid, int):
            self.error(None, "malformed command: 'id' must be an integer")
            return
        name = msg.get("cmd")
        if not isinstance(name, str):
            self.error(cid, "malformed command: missing 'cmd' (known: %s)" % ", ".join(self.names))
            return
        fn = self.table.get(name)
        if fn is None:
            self.error(cid, "unknown command %r (known: %s)" % (name, ", ".join(self.names)))
            return
        try:
            out = fn(msg)
        except CommandError as e:
            self.error(cid, "%s: %s" % (name, e.args[0] if e.args else "failed"))
            return
        except Exception as e:  # a bug or a chip fault: reply, keep running
            self.app.framer.response({"id": cid, "ok": False, "error": "%s: %s: %s" % (name, type(e).__name__, e)})
            return
        reply = {"id": cid, "ok": True}
        if out:
            reply.update(out)
        self.app.framer.response(reply)
        after = self.app.after_reply
        if after is not None:
            self.app.after_reply = None
            after()

    # -- commands -------------------------------------------------------------------------------------------------------
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
            "fault": app.fault,
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
                        "start with lower_rate=true" % (cap, why, rate, need))
                for r in (1000, 500):
                    if r < rate and can(app.bytes_per_s(r)):
                        app.set_config({"rate": r})
                        app.framer.log(wire.LOG_WARNING, "rate lowered from %d to %d SPS for the link" % (rate, r))
                        out["lowered_from"] = rate
                        break
                else:
                    raise CommandError("link carries about %d B/s%s: even 500 SPS needs %d B/s" % (
                        cap, why, app.bytes_per_s(500)))
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
        out["rx_discarded"] = app.rx_discarded
        out["link_connected"] = bool(app.link.connected())
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
        return selftest.lead_off(self.app, cur)

    def impedance(self, msg):
        self._idle_check()
        cur = msg.get("current_na", 6)
        if cur not in (6, 24):
            raise CommandError("current_na must be 6 or 24 (AC excitation)")
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

    def repl(self, msg):
        """Leave the main loop and hand the port back to the REPL (perifacial flash uses it: the USB link disables
        Ctrl-C, so mpremote cannot interrupt the firmware otherwise)."""
        self.app.after_reply = self.app.leave
        return {"repl": True}

    def reboot(self, msg):
        self.app.after_reply = self.app.reboot
        return {"rebooting": True}
