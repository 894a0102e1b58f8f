# Main-loop side of the data path: records from the ring -> DATA frames (preallocated buffer, wire.seal) -> link.
# Also builds the other frame types (RESPONSE, STATUS, LOG, EVENT) and owns the frame sequence number.
#
# Link contract (links.py): write(buf) takes the whole frame and returns its length, or returns 0 and takes nothing
# (busy). A busy link keeps the DATA frame pending and stops draining the ring, so backpressure ends in the ring and
# is counted there (overruns). A link with no peer (connected() False) drops frames: counted in frames_dropped, their
# samples in dropped_samples (part of the STATUS overruns), and the host sees the sequence and sample-index gaps.
try:
    from . import wire
except ImportError:
    import wire  # type: ignore[no-redef]

import json

try:
    from .viper import bad_status  # machine code where the port has the viper emitter (rp2, esp32)
except (ImportError, SyntaxError):
    try:
        from viper import bad_status  # type: ignore[no-redef]
    except (ImportError, SyntaxError):  # CPython, the WebAssembly MicroPython: the same function in Python

        def bad_status(buf, off, count):
            """Chip status words among ``count`` 27-byte records from ``buf[off]`` lacking the 0xC nibble."""
            bad = 0
            end = off + count * 27
            while off < end:
                if buf[off] & 0xF0 != 0xC0:
                    bad += 1
                off += 27
            return bad


MAX_SAMPLES_PER_FRAME = 50
_CTRL_QUEUE = 16
MAX_LOG_TEXT = 1000  # characters (UTF-8: at most 4 bytes each, below wire.MAX_PAYLOAD)


class Framer:
    def __init__(self, acq, link, n_chips, samples_per_frame=10):
        self.acq = acq
        self.link = link
        self.n_chips = n_chips
        self.rec = wire.CHIP_BYTES * n_chips
        cap = wire.frame_size(wire.data_payload_size(MAX_SAMPLES_PER_FRAME, n_chips))
        self.buf = bytearray(cap)
        self.mv = memoryview(self.buf)
        self.seq = 0
        self.ctrl = []  # control frames waiting for a busy link
        self.set_samples_per_frame(samples_per_frame)
        self.reset_counters()
        self.reset_stream()

    def set_samples_per_frame(self, n):
        if not 1 <= n <= MAX_SAMPLES_PER_FRAME:
            raise ValueError("samples_per_frame must be 1..%d" % MAX_SAMPLES_PER_FRAME)
        self.spf = n

    def reset_counters(self):
        self.frames_sent = 0
        self.frames_dropped = 0
        self.dropped_samples = 0
        self.status_errors = 0
        self.bytes_sent = 0

    def reset_stream(self):
        """Forget the frame in progress (call when acquisition (re)starts)."""
        self.n = 0  # samples in the frame being built
        self.first = 0
        self.flags = 0
        self.next_index = 0  # the sample index expected next
        self.pending = 0  # size of a sealed DATA frame the link has not taken yet

    # -- sending ------------------------------------------------------------------------------------------------------
    def _send(self, frame, nsamples):
        """Hand one whole frame to the link. Returns False when the link is busy (nothing was taken)."""
        link = self.link
        if not link.connected():
            self.frames_dropped += 1
            if nsamples:
                self.dropped_samples += nsamples
                self.flags |= wire.FLAG_OVERRUN  # for the next DATA frame: its samples follow a gap
            return True
        size = len(frame)
        if link.write(frame) == 0:
            return False
        self.frames_sent += 1
        self.bytes_sent += size
        return True

    def send_frame(self, ftype, payload):
        """Seal and send a control frame (RESPONSE, STATUS, LOG, EVENT); queued while the link is busy."""
        frame = wire.encode(ftype, self.seq, payload)
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        if self.ctrl or not self._send(frame, 0):
            if len(self.ctrl) >= _CTRL_QUEUE:
                self.ctrl.pop(0)
                self.frames_dropped += 1
            self.ctrl.append(frame)

    def response(self, obj):
        payload = json.dumps(obj).encode()
        if len(payload) > wire.MAX_PAYLOAD:  # never raise out of the main loop: say what happened instead
            payload = json.dumps(
                {
                    "id": obj.get("id"),
                    "ok": False,
                    "error": "reply of %d bytes exceeds the frame limit %d" % (len(payload), wire.MAX_PAYLOAD),
                }
            ).encode()
        self.send_frame(wire.T_RESPONSE, payload)

    def log(self, level, text):
        self.send_frame(wire.T_LOG, bytes((level,)) + text[:MAX_LOG_TEXT].encode())

    def event(self, kind, value, sample, device_time_us):
        self.send_frame(wire.T_EVENT, wire.pack_event(kind, value, sample, device_time_us))

    def status(self, values):
        self.send_frame(wire.T_STATUS, wire.pack_status(values))

    def flush_ctrl(self):
        while self.ctrl:
            if not self._send(self.ctrl[0], 0):
                return False
            self.ctrl.pop(0)
        return True

    # -- DATA ---------------------------------------------------------------------------------------------------------
    def _seal_data(self):
        size = wire.seal_data(self.buf, self.seq, self.first, self.t0, self.n, self.n_chips, self.flags)
        seq = self.seq + 1
        self.seq = seq if seq <= 0xFFFFFFFF else 0  # (a mask would make a long-int temporary on every frame)
        self.n = 0
        self.flags = 0
        return size

    def _push(self, size, nsamples):
        if self._send(self.mv[:size], nsamples):
            self.pending = 0
            return True
        self.pending = size
        self.pending_n = nsamples
        return False

    def flush(self):
        """Send the frame in progress now (partial frames at stop). Returns False while the link is busy."""
        if self.pending:
            if not self._push(self.pending, self.pending_n):
                return False
        if self.n:
            n = self.n
            return self._push(self._seal_data(), n)
        return True

    def poll(self, limit=64):
        """Move up to ``limit`` records from the ring into frames and send full frames. Returns records moved.

        Records move in runs: slots that sit next to each other in the ring (no wrap) and carry consecutive sample
        indices go into the frame with one slice copy, and their status words are checked by one call, so the cost
        per record is a few byte copies rather than a Python loop (the frames are byte-identical either way).
        """
        if self.ctrl and not self.flush_ctrl():
            return 0
        if self.pending and not self._push(self.pending, self.pending_n):
            return 0
        acq = self.acq
        rec = self.rec
        buf = self.buf
        ring = acq.mv
        index = acq.index
        slots = acq.slots
        moved = 0
        while moved < limit:
            avail = acq.available()
            if not avail:
                break
            s = acq.peek()
            idx = index[s]
            if self.n and idx != self.next_index:
                n = self.n
                if not self._push(self._seal_data(), n):
                    return moved
            if self.n == 0:
                self.first = idx
                self.t0 = acq.ticks[s]
                if idx != self.next_index:
                    self.flags |= wire.FLAG_OVERRUN
            m = min(avail, slots - s, self.spf - self.n, limit - moved)
            while m > 1 and index[s + m - 1] - idx != m - 1:  # indices only grow: consecutive iff the ends agree
                m -= 1
            off = wire.HEADER_SIZE + wire.DATA_HDR_SIZE + self.n * rec
            a = s * rec
            buf[off : off + m * rec] = ring[a : a + m * rec]
            bad = bad_status(buf, off, m * self.n_chips)
            if bad:
                self.status_errors += bad
                self.flags |= wire.FLAG_STATUS_ERROR
            acq.release(m)
            moved += m
            self.n += m
            self.next_index = idx + m
            if self.n >= self.spf:
                n = self.n
                if not self._push(self._seal_data(), n):
                    return moved
        return moved
