// A streaming band-limited resampler (windowed sinc), for the softphone's two directions: the
// microphone's rate (48 kHz, 44.1 kHz, ...) down to the phone line's 8 kHz, and the agent's 8 kHz up to
// the speakers' rate. Each output sample is the input under a low-pass kernel centred on the output's
// time, so going down the band above the new Nyquist is filtered out rather than folded in (dropping
// samples would alias it), and going up the steps between samples are smoothed. Pure: samples in,
// samples out; no allocation per call once the buffers have grown to the chunk size.

/** Zero crossings of the sinc on each side of the kernel: the steepness of the filter's edge. */
const ZERO_CROSSINGS = 16;
/** Kernel table points per input sample; weights between them are interpolated linearly. */
const TABLE_RESOLUTION = 64;
/** The pass band ends this far into the lower rate's Nyquist band (3.5 kHz for 8 kHz: the phone band ends at 3.4). */
const CUTOFF_FRACTION = 0.875;

export class Resampler {
  /** Input samples per output sample. */
  private readonly step: number;
  /** Kernel reach on each side, in input samples. */
  private readonly halfWidth: number;
  /** The kernel from 0 to halfWidth, TABLE_RESOLUTION points per input sample (it is symmetric). */
  private readonly kernel: Float32Array;
  private history: Float32Array;
  /** Samples in `history` (input not yet behind every future output's kernel). */
  private length = 0;
  /** Where time 0 (the first sample after a reset) is in `history`; it moves down as old input is dropped. */
  private origin = 0;
  /** Outputs given since the reset: the next one falls at origin + produced * step (no error piles up). */
  private produced = 0;
  private output = new Float32Array(0);

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
  ) {
    if (!(inputRate > 0 && outputRate > 0)) throw new Error(`resampler: rates must be positive (got ${inputRate} -> ${outputRate})`);
    this.step = inputRate / outputRate;
    // Cutoff in cycles per input sample: below both rates' Nyquist frequencies.
    const cutoff = (CUTOFF_FRACTION * Math.min(inputRate, outputRate)) / 2 / inputRate;
    this.halfWidth = ZERO_CROSSINGS / (2 * cutoff);
    this.kernel = new Float32Array(Math.ceil(this.halfWidth * TABLE_RESOLUTION) + 2);
    for (let i = 0; i < this.kernel.length; i++) {
      const distance = i / TABLE_RESOLUTION;
      if (distance >= this.halfWidth) continue;
      const x = 2 * cutoff * distance;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      // Blackman window over [-halfWidth, halfWidth]: stop band about 70 dB down.
      const w = Math.PI * (distance / this.halfWidth);
      this.kernel[i] = sinc * (0.42 + 0.5 * Math.cos(w) + 0.08 * Math.cos(2 * w));
    }
    this.history = new Float32Array(1024);
    this.reset();
  }

  /** Output samples per input sample. */
  get ratio(): number {
    return this.outputRate / this.inputRate;
  }

  /** Forgets all input: the next sample pushed is time 0 again. */
  reset(): void {
    // Zeros before time 0, so the first outputs have a full kernel under them.
    const lead = Math.ceil(this.halfWidth);
    this.history.fill(0, 0, lead);
    this.length = lead;
    this.origin = lead;
    this.produced = 0;
  }

  /**
   * Takes the next input samples; returns the output samples now complete (a view reused by the next
   * call: copy what must be kept). Output n is the input at time n / outputRate from the last reset;
   * the newest halfWidth input samples wait for the samples after them.
   */
  push(input: ArrayLike<number>): Float32Array {
    this.append(input);
    return this.emit(this.length - this.halfWidth);
  }

  /** The outputs still held back up to the end of the input pushed (as if silence followed), then reset(). */
  flush(): Float32Array {
    const end = this.length;
    this.append(new Float32Array(Math.ceil(this.halfWidth) + 1));
    const out = this.emit(end);
    this.reset();
    return out;
  }

  private append(input: ArrayLike<number>): void {
    if (this.length + input.length > this.history.length) {
      const grown = new Float32Array(Math.max(this.history.length * 2, this.length + input.length));
      grown.set(this.history.subarray(0, this.length));
      this.history = grown;
    }
    for (let i = 0; i < input.length; i++) this.history[this.length + i] = input[i]!;
    this.length += input.length;
  }

  /** Computes every output whose time is before `limit` (input samples from history[0]). */
  private emit(limit: number): Float32Array {
    const next = () => this.origin + this.produced * this.step;
    // The tolerance keeps a rounding error from adding an output exactly at the limit.
    const count = Math.max(0, Math.ceil((limit - next()) / this.step - 1e-9));
    if (this.output.length < count) this.output = new Float32Array(Math.max(count, this.output.length * 2));
    for (let n = 0; n < count; n++) {
      this.output[n] = this.sampleAt(next());
      this.produced++;
    }
    // Drop the input no future output's kernel reaches.
    const keepFrom = Math.max(0, Math.floor(next() - this.halfWidth) - 1);
    if (keepFrom > 0) {
      this.history.copyWithin(0, keepFrom, this.length);
      this.length -= keepFrom;
      this.origin -= keepFrom;
    }
    return this.output.subarray(0, count);
  }

  private sampleAt(time: number): number {
    const first = Math.max(0, Math.ceil(time - this.halfWidth));
    const last = Math.min(this.length - 1, Math.floor(time + this.halfWidth));
    let sum = 0;
    let weights = 0;
    for (let k = first; k <= last; k++) {
      const at = Math.abs(time - k) * TABLE_RESOLUTION;
      const i = Math.floor(at);
      const weight = this.kernel[i]! + (this.kernel[i + 1]! - this.kernel[i]!) * (at - i);
      sum += this.history[k]! * weight;
      weights += weight;
    }
    // Normalised so a constant stays that constant whatever the output's phase between inputs.
    return weights === 0 ? 0 : sum / weights;
  }
}
