// Emulated DRDY + ADS1299 daisy chain for the acquisition budget (tests/emu_budget).
// When the firmware drives START_PIN (GP2) high, DRDY (DRDY_PIN, default GP3) falls every 1e9/RATE ns and rises
// again 4 us later (tDR-like pulse; the ADS1299 raises DRDY on the first SCLK, the CS-held read does not need it).
// SPI0 slave: after each DRDY falling edge the next NCHIPS*27 bytes clocked are the chained frame of that sample:
//   chip c: status C0 00 00, then channel k (0..7): 24-bit big-endian (sample * 31 + c * 8 + k) & 0x7fffff.
// Byte duration follows the SPI0 clock registers (clk_peri 48 MHz in MicroPython's rp2 port).
// On exit it prints one line 'EMU_CHAIN {json}' to stderr: DRDY edges, frames fully read, frames read partially,
// bytes clocked past a frame, and cpu_busy: executed cycles (125 MHz) / emulated time while START was high.
const GPIOPinState = { Low: 0, High: 1 }; // rp2040js' enum (no import: the hook may live outside its node_modules)
const RATE = Number(process.env.EMU_RATE || 1000);
const NCHIPS = Number(process.env.EMU_CHIPS || 3);
const DRDY = Number(process.env.EMU_DRDY_PIN || 3);
const START = Number(process.env.EMU_START_PIN || 2);
const CLK_PERI = 48e6;
const REC = 27 * NCHIPS;

export function frameByte(sample, i) {
  const c = Math.floor(i / 27), j = i % 27;
  if (j === 0) return 0xc0;
  if (j < 3) return 0;
  const k = Math.floor((j - 3) / 3), b = (j - 3) % 3;
  const v = (sample * 31 + c * 8 + k) & 0x7fffff;
  return (v >> (8 * (2 - b))) & 0xff;
}

export default function ({ mcu, clock, log }) {
  const spi = mcu.spi[0];
  const periodNs = 1e9 / RATE;
  let sample = -1, idx = REC, started = false, pending = 0;
  let edges = 0, full = 0, partial = 0, overread = 0;
  // busy = cycles executed (not waiting in WFI/WFE) between START high and START low, over that emulated time
  let busyCycles = 0, counting = false, t0 = 0, t1 = 0;
  const core = mcu.core;
  const exec = core.executeInstruction.bind(core);
  core.executeInstruction = () => { const c = exec(); if (counting) busyCycles += c; return c; };
  const done = clock.createAlarm(() => spi.completeTransmit(pending));
  const fall = clock.createAlarm(() => {
    if (idx > 0 && idx < REC) partial++;
    sample++; idx = 0; edges++;
    mcu.gpio[DRDY].setInputValue(false);
    rise.schedule(4000);
    fall.schedule(periodNs);
  });
  const rise = clock.createAlarm(() => mcu.gpio[DRDY].setInputValue(true));
  mcu.gpio[DRDY].setInputValue(true);
  mcu.gpio[START].addListener((state) => {
    if (state === GPIOPinState.High && !started) { started = true; counting = true; t0 = clock.nanos; fall.schedule(periodNs); }
    if (state === GPIOPinState.Low && started) { started = false; counting = false; t1 = clock.nanos; fall.cancel(); rise.cancel(); }
  });
  spi.onTransmit = () => {
    const bits = (spi.control0 & 0xf) + 1;
    const scr = (spi.control0 >> 8) & 0xff;
    const ns = (bits * spi.clockDivisor * (1 + scr) * 1e9) / CLK_PERI;
    if (idx < REC) { pending = frameByte(sample, idx); if (++idx === REC) full++; }
    else { pending = 0; overread++; }
    done.schedule(ns);
  };
  process.on('exit', () => {
    log('EMU_CHAIN ' + JSON.stringify({
      rate: RATE, drdy_edges: edges, frames_read: full, partial, overread,
      seconds: (t1 - t0) / 1e9, busy_cycles: busyCycles, cpu_busy: busyCycles * 8 / Math.max(1, t1 - t0) }));
  });
}
