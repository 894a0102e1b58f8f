# Wi-Fi station join at boot: retries with exponential backoff instead of raising (a raise in main.py would drop the
# board to the REPL, off the network until someone power-cycles it). `network` and `time` are injected for tests.
BACKOFF_START_MS = 1000
BACKOFF_MAX_MS = 60000


def join(network_mod, ssid, password, time_mod, attempt_ms=15000, log=None, max_attempts=0):
    """Connect the station interface; return its IP address. Retries forever (``max_attempts`` 0) with backoff
    1 s, 2 s, 4 s ... 60 s between attempts; ``log(text)`` hears about every failed attempt."""
    wlan = network_mod.WLAN(network_mod.STA_IF)
    wlan.active(True)
    backoff = BACKOFF_START_MS
    attempt = 0
    while True:
        attempt += 1
        if not wlan.isconnected():
            try:
                wlan.connect(ssid, password)
            except OSError as e:
                if log is not None:
                    log("Wi-Fi: connect to %s failed: %s" % (ssid, e))
            t0 = time_mod.ticks_ms()
            while not wlan.isconnected() and time_mod.ticks_diff(time_mod.ticks_ms(), t0) < attempt_ms:
                time_mod.sleep_ms(100)
        if wlan.isconnected():
            return wlan.ifconfig()[0]
        if log is not None:
            log("Wi-Fi: no connection to %s (attempt %d); retrying in %d ms" % (ssid, attempt, backoff))
        if max_attempts and attempt >= max_attempts:
            raise OSError("Wi-Fi: no connection to %s after %d attempts" % (ssid, attempt))
        try:
            wlan.disconnect()
        except (AttributeError, OSError):
            pass
        time_mod.sleep_ms(backoff)
        backoff = backoff * 2 if backoff * 2 < BACKOFF_MAX_MS else BACKOFF_MAX_MS
