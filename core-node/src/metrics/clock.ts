// Maps the caller's audio clock (Twilio media timestamps) to this process's wall clock, so latency
// metrics start when the caller actually stopped speaking, not when a late frame happened to arrive.
//
// A frame stamped t carries the audio t..t+frameMs, so it cannot leave the caller's side before
// t+frameMs was captured; network jitter and a busy event loop only ever delay it. The earliest
// arrival relative to its audio end is therefore the best estimate of the capture clock:
//   offset = min over frames so far of (arrival − (timestamp + frameMs))
//   wall(audioMs) = offset + audioMs
// (The estimate includes the minimum one-way transit, which cannot be separated from capture time.)
// Without the frame's own length the estimate would sit one frame late and every latency measured
// from speech end would read one frame short.

export class AudioClock {
  private offset = Number.POSITIVE_INFINITY;

  constructor(private readonly frameMs: number) {}

  /** A frame stamped `timestampMs` on the audio clock arrived at wall time `arrivedAt`. */
  observe(timestampMs: number, arrivedAt: number): void {
    const offset = arrivedAt - (timestampMs + this.frameMs);
    if (offset < this.offset) this.offset = offset;
  }

  /** Wall time of a point on the audio clock; undefined until a frame was observed. */
  wallAt(audioMs: number): number | undefined {
    return Number.isFinite(this.offset) ? this.offset + audioMs : undefined;
  }
}
