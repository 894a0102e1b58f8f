#!/usr/bin/env node
// The emulated perifacial board: MicroPython's RPI_PICO build booted in rp2040js with the project's firmware on its
// flash filesystem (a LittleFS image made by perifacial.host.emu), an emulated ADS1299 chain on SPI0 + GPIO
// (ads1299_chain.mjs), and the USB CDC bridged to the parent process through a small framed protocol on
// stdin/stdout. Emulated time advances only while the parent asks for bytes, so the run is deterministic and a
// host's timeouts are emulated seconds.
//
// usage: node board.mjs --rp2040js DIR --rp2emu DIR --uf2 FILE --fs-image FILE [--config JSON]
//   --rp2040js  the rp2040js package folder (node_modules/rp2040js)
//   --rp2emu    folder holding bootrom.mjs (the RP2040 boot ROM, loaded at run time, never shipped)
//   --config    {"pins": {"cs": [17, 20, 21], "drdy": 22, "start": 27, "reset": 26, "pwdn": 28}, "clockError": 0}
//
// Protocol (all integers little-endian). Parent -> node: op (1 byte), length (u32), payload.
//   'W' payload = bytes for the device (host -> board over USB CDC)
//   'R' payload = max_bytes u32, timeout f64 (emulated s), batch f64 (emulated s): run until some device output is
//       there (then `batch` more, or until max_bytes) or `timeout` passed; answer 'D'
//   'S' payload = 1 byte: 1 = start a new measurement window; answer 'J' (JSON statistics of the window so far)
//   'Q' quit
// Node -> parent: op (1 byte), length (u32), payload. 'D' = emulated time f64 (s) + the device's bytes;
//   'J' = UTF-8 JSON; 'E' = fatal error text.
import { readFileSync } from 'fs';
import { dirname, join, resolve } from 'path';
import { fileURLToPath, pathToFileURL } from 'url';

const argv = process.argv.slice(2);
const opts = { config: '{}' };
for (let i = 0; i < argv.length; i++) {
  const k = argv[i].replace(/^--/, '');
  opts[k.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = argv[++i];
}
function fatal(msg) {
  const b = Buffer.from(String(msg), 'utf8');
  const h = Buffer.alloc(5); h[0] = 0x45; h.writeUInt32LE(b.length, 1);
  process.stdout.write(Buffer.concat([h, b]));
  process.exit(2);
}
for (const k of ['rp2040js', 'rp2emu', 'uf2', 'fsImage']) if (!opts[k]) fatal(`board.mjs: missing --${k}`);

const here = dirname(fileURLToPath(import.meta.url));
const rp = await import(pathToFileURL(join(resolve(opts.rp2040js), 'dist', 'esm', 'index.js')).href);
const { bootromB1 } = await import(pathToFileURL(join(resolve(opts.rp2emu), 'bootrom.mjs')).href);
const { ADS1299Chain } = await import(pathToFileURL(join(here, 'ads1299_chain.mjs')).href);
const cfg = JSON.parse(opts.config);

// ---- machine ----
const simulator = new rp.Simulator();
const mcu = simulator.rp2040;
const clock = simulator.clock;
mcu.loadBootrom(bootromB1);
mcu.logger = new rp.ConsoleLogger(rp.LogLevel.Error);
const uf2 = readFileSync(opts.uf2);
let blocks = 0;
for (let off = 0; off + 512 <= uf2.length; off += 512) {
  const v = new DataView(uf2.buffer, uf2.byteOffset + off, 512);
  if (v.getUint32(0, true) !== 0x0a324655 || v.getUint32(4, true) !== 0x9e5d5157) continue;
  mcu.flash.set(uf2.subarray(off + 32, off + 32 + v.getUint32(16, true)), v.getUint32(12, true) - 0x10000000);
  blocks++;
}
if (!blocks) fatal(`${opts.uf2} holds no UF2 blocks: pass an RPI_PICO MicroPython .uf2`);
mcu.flash.set(readFileSync(opts.fsImage), 0xa0000); // MICROPY_HW_FLASH_STORAGE_BASE for RPI_PICO

// ---- ADS1299 chain ----
const pins = Object.assign({ cs: [17, 20, 21], drdy: 22, start: 27, reset: 26, pwdn: 28 }, cfg.pins || {});
const chain = new ADS1299Chain({ mcu, clock, GPIOPinState: rp.GPIOPinState, pins, nChips: pins.cs.length,
  clockError: cfg.clockError || 0, log: (...a) => process.stderr.write('[chain] ' + a.join(' ') + '\n') });

// ---- USB CDC host side ----
const cdc = new rp.USBCDC(mcu.usbCtrl);
const txQueue = [];
let pendingRead = null;
let connected = false;
// rp2040js' default answers an armed OUT endpoint with a zero-length packet when the host has nothing to send,
// which interrupts the firmware every ~10 us of emulated time (see ../shared/rp2emu/run.mjs): keep it armed instead.
mcu.usbCtrl.onEndpointRead = (endpoint, size) => {
  if (endpoint !== cdc.outEndpoint) return;
  if (txQueue.length === 0) { pendingRead = { endpoint, size }; return; }
  mcu.usbCtrl.endpointReadDone(endpoint, Uint8Array.from(txQueue.splice(0, Math.min(size, txQueue.length))));
};
function hostSend(bytes) {
  for (const b of bytes) txQueue.push(b);
  if (pendingRead && txQueue.length) {
    const { endpoint, size } = pendingRead;
    pendingRead = null;
    mcu.usbCtrl.endpointReadDone(endpoint, Uint8Array.from(txQueue.splice(0, Math.min(size, txQueue.length))));
  }
}
let outChunks = [];
let outLen = 0;
cdc.onDeviceConnected = () => { connected = true; };
cdc.onSerialData = (data) => {
  const b = Buffer.from(data);
  outChunks.push(b);
  outLen += b.length;
  win.usbBytes += b.length;
  scanFrames(b);
};

// ---- budget instrumentation ----
// busy = executed cycles (x 8 ns at 125 MHz) over the window's emulated time; the rest was spent in WFI/WFE.
// ring: samples read from the chips (all 81 bytes clocked) minus samples that left in DATA frames over USB: the
// firmware's ring plus what sits in the frame being built and the USB FIFO (an upper bound of the ring's fill).
const win = { t0: 0, cyc0: 0, usbBytes: 0, conv0: 0, over0: 0, torn0: 0, reads0: 0, lat0: 0, shipped0: 0, ringHigh: 0 };
let execCycles = 0;
let samplesShipped = 0;
chain.onRead = () => {
  const fill = chain.stats.reads - samplesShipped;
  if (fill > win.ringHigh) win.ringHigh = fill;
};
// DATA frame headers in the device's stream (the firmware writes whole frames back to back):
// A5 5A 01 type len(u16) seq(u32) | first(u32) t(u32) n(u16) ...; other frames are skipped by their length.
let skip = 0;
let hdr = [];
function scanFrames(b) {
  let i = 0;
  while (i < b.length) {
    if (skip > 0) { const k = Math.min(skip, b.length - i); skip -= k; i += k; continue; }
    const x = b[i++];
    hdr.push(x);
    const n = hdr.length;
    if ((n === 1 && x !== 0xa5) || (n === 2 && x !== 0x5a) || (n === 3 && x !== 1)) { hdr = x === 0xa5 ? [x] : []; continue; }
    if (n === 6 && (hdr[4] | (hdr[5] << 8)) > 8192) { hdr = []; continue; }
    if (n === 20 || (n === 10 && hdr[3] !== 1)) {
      if (hdr[3] === 1) samplesShipped += hdr[18] | (hdr[19] << 8);
      skip = 14 + (hdr[4] | (hdr[5] << 8)) - n;
      hdr = [];
    }
  }
}
function stats() {
  const s = chain.stats;
  const dt = (clock.nanos - win.t0) / 1e9;
  const lat = chain.latencies.slice(win.lat0).sort((a, b) => a - b);
  const q = (f) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] / 1000 : null);
  return {
    emulated_s: dt, now_s: clock.nanos / 1e9,
    cycles_executed: execCycles - win.cyc0,
    cpu_busy: dt > 0 ? ((execCycles - win.cyc0) * 8e-9) / dt : 0,
    conversions: s.conversions - win.conv0, overwritten: s.overwritten - win.over0, torn_reads: s.torn - win.torn0,
    reads: s.reads - win.reads0, samples_shipped: samplesShipped - win.shipped0,
    latency_us_median: q(0.5), latency_us_p99: q(0.99), latency_us_max: lat.length ? lat[lat.length - 1] / 1000 : null,
    latency_us_min: lat.length ? lat[0] / 1000 : null,
    ring_high_water: win.ringHigh, usb_bytes: win.usbBytes, usb_bytes_per_s: dt > 0 ? win.usbBytes / dt : 0,
    rate: chain.rate, chain_running: chain.running, rdatac: chain.rdatac, id_reads: s.idReads,
    reg_reads: s.regReads, reg_writes: s.regWrites, ignored_in_rdatac: s.ignoredInRdatac, usb_connected: connected,
  };
}
function resetWindow() {
  const s = chain.stats;
  Object.assign(win, { t0: clock.nanos, cyc0: execCycles, usbBytes: 0, conv0: s.conversions, over0: s.overwritten,
    torn0: s.torn, reads0: s.reads, lat0: chain.latencies.length, shipped0: samplesShipped,
    ringHigh: Math.max(0, s.reads - samplesShipped) });
}

// ---- run loop ----
const cycleNanos = 8; // rp2040js: 125 MHz for every executed cycle
mcu.core.PC = 0x10000000;
function runUntil(stop, limitNanos) {
  const core = mcu.core;
  while (clock.nanos < limitNanos) {
    for (let i = 0; i < 20000; i++) {
      if (core.waiting) {
        const dt = clock.nanosToNextAlarm;
        clock.tick(dt <= 0 ? cycleNanos : Math.min(dt, limitNanos - clock.nanos + cycleNanos));
      } else {
        const c = core.executeInstruction();
        execCycles += c;
        clock.tick(c * cycleNanos);
      }
    }
    if (stop()) return;
  }
}
function takeOut(max) {
  const all = outChunks.length === 1 ? outChunks[0] : Buffer.concat(outChunks);
  const n = Math.min(max, all.length);
  const rest = all.subarray(n);
  outChunks = rest.length ? [Buffer.from(rest)] : [];
  outLen = rest.length;
  return all.subarray(0, n);
}
function reply(op, payload) {
  const h = Buffer.alloc(5); h[0] = op; h.writeUInt32LE(payload.length, 1);
  process.stdout.write(Buffer.concat([h, payload]));
}
function handle(op, p) {
  if (op === 0x57) { hostSend(p); return; } // W
  if (op === 0x52) { // R
    const max = p.readUInt32LE(0), timeout = p.readDoubleLE(4), batch = p.readDoubleLE(12);
    const limit = clock.nanos + timeout * 1e9;
    if (outLen === 0) runUntil(() => outLen > 0, limit);
    if (outLen > 0 && outLen < max && batch > 0) runUntil(() => outLen >= max, Math.min(limit, clock.nanos + batch * 1e9));
    const data = takeOut(max);
    const t = Buffer.alloc(8); t.writeDoubleLE(clock.nanos / 1e9, 0);
    reply(0x44, Buffer.concat([t, data]));
    return;
  }
  if (op === 0x53) { // S
    const st = stats();
    if (p.length && p[0] === 1) resetWindow();
    reply(0x4a, Buffer.from(JSON.stringify(st), 'utf8'));
    return;
  }
  if (op === 0x51) process.exit(0); // Q
  fatal(`board.mjs: unknown request 0x${op.toString(16)}`);
}
let inBuf = Buffer.alloc(0);
process.stdin.on('data', (d) => {
  inBuf = inBuf.length ? Buffer.concat([inBuf, d]) : d;
  while (inBuf.length >= 5) {
    const len = inBuf.readUInt32LE(1);
    if (inBuf.length < 5 + len) break;
    const op = inBuf[0];
    const p = inBuf.subarray(5, 5 + len);
    inBuf = inBuf.subarray(5 + len);
    try { handle(op, p); } catch (e) { fatal(`board.mjs: ${e && e.stack || e}`); }
  }
});
process.stdin.on('end', () => process.exit(0));
