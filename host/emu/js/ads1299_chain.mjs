// An emulated chain of ADS1299 (TI SBAS499C) on the emulated RP2040's SPI0 (SSP peripheral) and GPIO pins.
//
// What the firmware sees, as on a board wired like hardware/boards/picow.json:
// - registers at their reset values (ID 0x3E: DEV_ID 11, NU_CH 10), RREG/WREG/opcodes per selected chip, register
//   commands ignored in RDATAC (the power-up mode) until SDATAC;
// - daisy chain: with chips 0..k selected a read returns chip 0's bytes, then chip 1's, ... (chip k+1's DOUT feeds
//   chip k's DAISY_IN; only chip 0's DOUT is MISO), then 0x00;
// - conversions while START (pin or opcode) is active: DRDY (chip 0's) falls every 1/rate s (CONFIG1 DR) on the
//   DRDY pin, returns high at the first SCLK or 4 tCLK before the next conversion; the first DRDY comes 4 periods
//   after START (tSETTLE);
// - RDATAC frame per chip: status 0xC0 0x00 0x00 (1100 + LOFF_STATP/N 0 + GPIO 0), then 8 x 24-bit codes:
//   MUX normal: the known pattern code(j, ch) (j = conversion index since START, ch = 0..23; the host's
//   perifacial.host.emu.chain.expected_frame computes the same bytes independently); MUX test: the internal square
//   wave +-VREF/2.4 mV x gain (period 2^21 tCLK); MUX shorted: 0; powered-down channel: 0;
// - SPI: the SSP peripheral (byte time from its registers) or bit level on the SCK/MOSI/MISO pins (PIO or
//   bit-banged GPIO, mode 1);
// - SSP byte time from the SSP registers (bits x CPSDVSR x (1 + SCR) / clk_peri, clk_peri 48 MHz in MicroPython's
//   rp2 port), like ../shared/rp2emu/hooks/spi_hook.mjs.
// Counters for the budget: conversions while streaming, conversions overwritten before all their bytes were read
// (samples lost at the chip: no FIFO), reads torn by a DRDY, DRDY-to-first-SCLK latency of every read.
const CLK_PERI = 48e6;
const FCLK = 2.048e6;
const DR_SPS = [16000, 8000, 4000, 2000, 1000, 500, 250];
const GAINS = [1, 2, 4, 6, 8, 12, 24];
const RESET_REGS = [0x3e, 0x96, 0xc0, 0x60, 0x00, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x00];
const OP = { WAKEUP: 0x02, STANDBY: 0x04, RESET: 0x06, START: 0x08, STOP: 0x0a, RDATAC: 0x10, SDATAC: 0x11, RDATA: 0x12 };

// The known content of normal-input channels: a 24-bit code per (conversion j, chain channel ch 0..23).
export function patternCode(j, ch) {
  return (Math.imul(j * 24 + ch, 0x9e3779b1) >>> 8) & 0xffffff;
}

export class ADS1299Chain {
  /**
   * @param {object} o  mcu, clock, GPIOPinState, pins {cs:[..], drdy, start, reset, pwdn}, nChips, log
   */
  constructor(o) {
    Object.assign(this, { mcu: o.mcu, clock: o.clock, S: o.GPIOPinState, log: o.log || (() => {}) });
    this.pins = o.pins;
    this.n = o.nChips || this.pins.cs.length;
    this.drdyPin = o.pins.drdy;
    this.clockError = o.clockError || 0;
    this.regs = [];
    this.rdatac = [];
    this.parse = []; // per chip: {state, op, addr, left}
    for (let c = 0; c < this.n; c++) this.resetChip(c);
    this.csLow = new Array(this.n).fill(false);
    this.startPin = false;
    this.startCmd = false;
    this.running = false;
    this.out = new Uint8Array(0);
    this.outPos = 0;
    this.outIsData = false;
    this.conv = 0; // conversions since START (the sample index the firmware should assign)
    this.calConv = 0; // free-running conversion counter (test-signal phase)
    this.frame = new Uint8Array(27 * this.n);
    this.frameRead = true;
    this.tDrdy = 0;
    this.firstAfterDrdy = false;
    // counters
    this.stats = { conversions: 0, overwritten: 0, torn: 0, reads: 0, regReads: 0, regWrites: 0, idReads: 0,
      ignoredInRdatac: 0, commandsByChip: new Array(this.n).fill(0) };
    this.latencies = [];
    this.onRead = null; // callback(j) when all bytes of conversion j were clocked out
    // conversion timer
    this.convAlarm = this.clock.createAlarm(() => this.convert());
    this.drdyHighAlarm = this.clock.createAlarm(() => this.setDrdy(true));
    this.spiDone = this.clock.createAlarm(() => this.mcu.spi[0].completeTransmit(this.pendingMiso));
    this.pendingMiso = 0;
    this.wire();
  }

  resetChip(c) {
    this.regs[c] = Uint8Array.from(RESET_REGS);
    this.rdatac[c] = true;
    this.parse[c] = { state: 0, op: 0, addr: 0, left: 0 };
  }

  wire() {
    const { mcu, S, pins } = this;
    if (this.drdyPin != null) mcu.gpio[this.drdyPin].setInputValue(true);
    pins.cs.forEach((p, c) => mcu.gpio[p].addListener((st) => {
      const low = st === S.Low;
      if (low !== this.csLow[c]) {
        this.csLow[c] = low;
        if (!low) { this.parse[c].state = 0; if (c === 0) this.bit = 0; } // CS high resets the serial interface
      }
    }));
    if (pins.start != null) mcu.gpio[pins.start].addListener((st) => {
      const hi = st === S.High;
      if (hi !== this.startPin) { this.startPin = hi; this.updateRun(); }
    });
    if (pins.reset != null) mcu.gpio[pins.reset].addListener((st) => {
      if (st === S.Low) { for (let c = 0; c < this.n; c++) this.resetChip(c); this.startCmd = false; this.updateRun(); }
    });
    const spi = mcu.spi[0];
    spi.onTransmit = (mosi) => this.transfer(mosi);
    this.bit = 0;
    if (pins.sck != null && pins.mosi != null && pins.miso != null) {
      mcu.gpio[pins.sck].addListener((st, old) => {
        if (st === S.High && old !== S.High) this.sckRise();
        else if (st === S.Low && old === S.High) this.sckFall();
      });
    }
  }

  get rate() { return DR_SPS[this.regs[0][1] & 7]; }
  get periodNs() { return 1e9 / this.rate / (1 + this.clockError); }

  updateRun() {
    const run = this.startPin || this.startCmd;
    if (run === this.running) return;
    this.running = run;
    if (run) {
      this.conv = 0;
      this.convAlarm.schedule(4 * this.periodNs + 9 * 1e9 / FCLK); // tSETTLE
    } else {
      this.convAlarm.cancel();
    }
  }

  setDrdy(v) { if (this.drdyPin != null) this.mcu.gpio[this.drdyPin].setInputValue(v); }

  chipFrame(c, j, out, off) {
    const r = this.regs[c];
    out[off] = 0xc0; out[off + 1] = 0; out[off + 2] = 0;
    const cfg2 = r[2];
    const tclkPerSample = FCLK / this.rate;
    const calPeriod = (cfg2 & 3) === 1 ? 1 << 20 : 1 << 21;
    const calHigh = Math.floor((this.calConv * tclkPerSample) / (calPeriod / 2)) % 2 === 0;
    const calMv = ((cfg2 & 4) ? 2 : 1) * 4500 / 2400; // VREF/2.4 mV (x2 with CAL_AMP)
    for (let i = 0; i < 8; i++) {
      const chset = r[5 + i];
      const mux = chset & 7;
      let code = 0;
      if (chset & 0x80) code = 0;
      else if (mux === 0) code = patternCode(j, c * 8 + i);
      else if (mux === 5 && (cfg2 & 0x10)) {
        const gain = GAINS[(chset >> 4) & 7] || 1;
        const v = ((cfg2 & 3) === 3 ? -calMv : (calHigh ? calMv : -calMv)) * 1e-3;
        code = Math.max(-0x800000, Math.min(0x7fffff, Math.round((v * gain * 0x800000) / 4.5))) & 0xffffff;
      }
      const o = off + 3 + 3 * i;
      out[o] = code >> 16; out[o + 1] = (code >> 8) & 0xff; out[o + 2] = code & 0xff;
    }
  }

  convert() {
    if (!this.running) return;
    const j = this.conv++;
    this.calConv++;
    if (this.rdatac[0]) {
      if (!this.frameRead) this.stats.overwritten++;
      if (this.outIsData && this.outPos > 0 && this.outPos < this.out.length) this.stats.torn++;
      for (let c = 0; c < this.n; c++) this.chipFrame(c, j, this.frame, 27 * c);
      this.out = this.frame.slice();
      this.outPos = 0;
      this.outIsData = true;
      this.frameJ = j;
      this.frameRead = false;
    }
    this.stats.conversions++;
    this.tDrdy = this.clock.nanos;
    this.firstAfterDrdy = true;
    this.setDrdy(false);
    const p = this.periodNs;
    this.drdyHighAlarm.schedule(p - 4 * 1e9 / FCLK);
    this.convAlarm.schedule(p);
  }

  selected() {
    const s = [];
    for (let c = 0; c < this.n; c++) if (this.csLow[c]) s.push(c);
    return s;
  }

  transfer(mosi) {
    // SSP (the SPI peripheral): byte-level, completion scheduled from the SSP clock registers
    const spi = this.mcu.spi[0];
    const bits = (spi.control0 & 0xf) + 1;
    const scr = (spi.control0 >> 8) & 0xff;
    const ns = (bits * (spi.clockDivisor || 2) * (1 + scr) * 1e9) / CLK_PERI;
    this.pendingMiso = this.nextMiso();
    this.decodeSelected(mosi);
    this.spiDone.schedule(ns);
  }

  // bit level: SCK/MOSI/MISO driven by PIO (or bit-banged GPIO) on the profile's SPI pins, SPI mode 1: the chip
  // shifts MISO out on the SCLK rising edge, both sides sample on the falling edge. (With the SSP peripheral owning
  // the pins, GPIO listeners see no edges: the byte-level path above serves it.)
  sckRise() {
    if (this.bit === 0) { this.bitMiso = this.nextMiso(); this.bitMosi = 0; }
    this.mcu.gpio[this.pins.miso].setInputValue(((this.bitMiso >> (7 - this.bit)) & 1) === 1);
  }

  sckFall() {
    this.bitMosi = (this.bitMosi << 1) | (this.mcu.gpio[this.pins.mosi].outputValue ? 1 : 0);
    if (++this.bit === 8) { this.bit = 0; this.decodeSelected(this.bitMosi); }
  }

  nextMiso() {
    // chip 0's DOUT (Hi-Z = 0x00 when chip 0 is not selected)
    let miso = 0;
    if (this.csLow[0]) {
      if (this.outIsData && this.firstAfterDrdy) {
        this.firstAfterDrdy = false;
        this.latencies.push(this.clock.nanos - this.tDrdy);
        this.setDrdy(true);
      }
      if (this.outPos < this.out.length) {
        miso = this.out[this.outPos++];
        if (this.outIsData && this.outPos === this.out.length) {
          this.frameRead = true;
          this.stats.reads++;
          if (this.onRead) this.onRead(this.frameJ);
        }
      }
    }
    return miso;
  }

  decodeSelected(mosi) {
    for (let c = 0; c < this.n; c++) if (this.csLow[c]) this.decode(c, mosi);
  }

  decode(c, b) {
    const p = this.parse[c];
    const r = this.regs[c];
    if (p.state === 0) {
      if (b === 0) return; // NOP (data-retrieval clocks)
      this.stats.commandsByChip[c]++;
      if ((b & 0xe0) === 0x20 || (b & 0xe0) === 0x40) {
        p.op = b & 0xe0; p.addr = b & 0x1f; p.state = 1;
        return;
      }
      switch (b) {
        case OP.SDATAC: this.rdatac[c] = false; break;
        case OP.RDATAC: this.rdatac[c] = true; break;
        case OP.START: if (c === 0) { this.startCmd = true; this.updateRun(); } break;
        case OP.STOP: if (c === 0) { this.startCmd = false; this.updateRun(); } break;
        case OP.RESET: this.resetChip(c); if (c === 0) { this.startCmd = false; this.updateRun(); } break;
        default: break;
      }
      return;
    }
    if (p.state === 1) {
      p.left = (b & 0x1f) + 1;
      if (p.op === 0x20) {
        p.state = 0;
        if (this.rdatac[c]) { this.stats.ignoredInRdatac++; return; }
        if (c === 0) this.prepareRreg(p.addr, p.left);
        return;
      }
      if (this.rdatac[c]) { this.stats.ignoredInRdatac++; p.state = 3; return; }
      p.state = 2;
      return;
    }
    if (p.state === 2) { // WREG data
      const a = p.addr++;
      if (a > 0 && a < 0x18 && a !== 0x12 && a !== 0x13) r[a] = b;
      this.stats.regWrites++;
      if (--p.left === 0) p.state = 0;
      return;
    }
    if (p.state === 3) { if (--p.left === 0) p.state = 0; } // WREG data ignored in RDATAC
  }

  prepareRreg(addr, count) {
    // chips 0..k selected: their register bytes in chain order, chip 0 first (TI e2e 909755)
    const sel = this.selected();
    const buf = new Uint8Array(count * sel.length);
    sel.forEach((c, k) => {
      for (let i = 0; i < count; i++) buf[k * count + i] = this.regs[c][(addr + i) & 0x1f] || 0;
    });
    if (addr === 0) this.stats.idReads++;
    this.stats.regReads++;
    this.out = buf;
    this.outPos = 0;
    this.outIsData = false;
  }
}
