// The bookkeeping behind a recognition stream that survives failures and its duration limit, as
// pure pieces: the caller's recent audio keyed by the caller's clock (what a new stream is fed
// again), the map from a stream's own offsets back to that clock, the retry schedule of one failure
// episode, and when to rotate a stream. No clock, no I/O, no chance (a retry's random draw comes in).
// (Which errors are worth a retry is errors.ts: it reads gRPC's status codes.)
import { jitteredDelayMs } from "@voice/protocol/backoff";

/** 8 kHz mu-law: one byte per sample, 8 bytes per millisecond. */
export const BYTES_PER_MS = 8;

/**
 * Google's limit is 25 KB of audio per streaming request. Replayed audio goes in 100 ms requests,
 * the size Google recommends for streaming, so the service sees it as it would have live, only faster.
 */
export const MAX_REPLAY_REQUEST_BYTES = 800;

/**
 * Backoff before each new stream of a failure episode; after the last one the episode is exhausted.
 * Upper bounds: each wait is drawn in (half of it, all of it] (jitteredDelayMs), so the streams of
 * one instance's calls that failed together (a service hiccup) do not come back in lockstep.
 */
export const RETRY_DELAYS_MS = [200, 400, 800, 1600] as const;

export interface AudioFrame {
  /** Start of the frame on the caller's audio clock. */
  audioMs: number;
  bytes: Uint8Array;
}

export const frameDurationMs = (bytes: Uint8Array) => bytes.length / BYTES_PER_MS;

/**
 * The caller's latest audio (up to `capacityMs` of it), frame by frame on the caller's clock. It
 * serves two readers: a new stream is fed the part not yet covered by a final, and the fallback
 * transcription takes an utterance's audio from it.
 *
 * Its memory is allocated once: frames are copied into a circular byte store and indexed by
 * circular arrays, so a frame costs no allocation and no object that outlives it (a call writes 50
 * a second for as long as it lasts, and what each call keeps alive is what the garbage collector
 * walks). Reading copies out; readers are rare (a replay, a fallback transcription).
 */
export class AudioRing {
  private readonly store: Uint8Array;
  /** Per frame record (circular, `records` long): start on the caller's clock, position in the store, size. */
  private readonly startMs: Float64Array;
  private readonly position: Float64Array;
  private readonly size: Uint32Array;
  private readonly records: number;
  /** Absolute indices: the oldest record kept and the next one to write. */
  private first = 0;
  private next = 0;
  /** Bytes written since the start (absolute store position of the next byte). */
  private written = 0;

  constructor(readonly capacityMs: number, minFrameMs = 10) {
    this.store = new Uint8Array(Math.ceil(capacityMs * BYTES_PER_MS));
    this.records = Math.ceil(capacityMs / minFrameMs) + 1;
    this.startMs = new Float64Array(this.records);
    this.position = new Float64Array(this.records);
    this.size = new Uint32Array(this.records);
  }

  /** Copies `bytes` in; the oldest frames make room (by age, then by space). */
  push(bytes: Uint8Array, audioMs: number): void {
    if (bytes.length > this.store.length) return; // not a frame: nothing a caller sends is this long
    const oldestKept = audioMs + frameDurationMs(bytes) - this.capacityMs;
    while (
      this.first < this.next &&
      (this.startMs[this.first % this.records]! < oldestKept ||
        this.next - this.first >= this.records ||
        this.written + bytes.length - this.position[this.first % this.records]! > this.store.length)
    ) {
      this.first++;
    }
    const at = this.written % this.store.length;
    const head = Math.min(bytes.length, this.store.length - at);
    this.store.set(bytes.subarray(0, head), at);
    if (head < bytes.length) this.store.set(bytes.subarray(head), 0);
    const slot = this.next % this.records;
    this.startMs[slot] = audioMs;
    this.position[slot] = this.written;
    this.size[slot] = bytes.length;
    this.next++;
    this.written += bytes.length;
  }

  /** End of the newest frame on the caller's clock (0 before any). */
  get endMs(): number {
    if (this.next === this.first) return 0;
    const slot = (this.next - 1) % this.records;
    return this.startMs[slot]! + this.size[slot]! / BYTES_PER_MS;
  }

  /** Bytes pushed since the ring was made: a position to read from later with `bytesSince`. */
  get bytesWritten(): number {
    return this.written;
  }

  /** A copy of everything pushed since `bytesWritten` read `from` (which must still be kept). */
  bytesSince(from: number): Uint8Array {
    return this.copy(from, this.written - from);
  }

  /** Frames that end after `fromMs`, oldest first (copies). */
  framesAfter(fromMs: number): AudioFrame[] {
    const out: AudioFrame[] = [];
    for (let i = this.first; i < this.next; i++) {
      const slot = i % this.records;
      const size = this.size[slot]!;
      if (this.startMs[slot]! + size / BYTES_PER_MS > fromMs) out.push({ audioMs: this.startMs[slot]!, bytes: this.copy(this.position[slot]!, size) });
    }
    return out;
  }

  /** The audio of the frames overlapping [fromMs, toMs), concatenated. */
  between(fromMs: number, toMs: number): Uint8Array {
    const parts = this.framesAfter(fromMs).filter((frame) => frame.audioMs < toMs);
    const out = new Uint8Array(parts.reduce((sum, frame) => sum + frame.bytes.length, 0));
    let at = 0;
    for (const frame of parts) {
      out.set(frame.bytes, at);
      at += frame.bytes.length;
    }
    return out;
  }

  private copy(position: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const at = position % this.store.length;
    const head = Math.min(length, this.store.length - at);
    out.set(this.store.subarray(at, at + head), 0);
    if (head < length) out.set(this.store.subarray(0, length - head), head);
    return out;
  }
}

/** Frames grouped into requests of at most `maxBytes` each, in order. */
export function replayRequests(frames: AudioFrame[], maxBytes = MAX_REPLAY_REQUEST_BYTES): Uint8Array[] {
  const requests: Uint8Array[] = [];
  let batch: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    if (size === 0) return;
    const out = new Uint8Array(size);
    let at = 0;
    for (const bytes of batch) {
      out.set(bytes, at);
      at += bytes.length;
    }
    requests.push(out);
    batch = [];
    size = 0;
  };
  for (const { bytes } of frames) {
    if (size + bytes.length > maxBytes) flush();
    batch.push(bytes);
    size += bytes.length;
  }
  flush();
  return requests;
}

/**
 * Where a new stream's replay starts on the caller's clock: after the audio already covered by a
 * final, and no earlier than `leadMs` before the utterance in progress (or before now when there is
 * none): the turn machine takes results only for utterances it is in, so older unfinalised audio
 * (silence, noise, an utterance already answered from its partial) would be recognized for nothing.
 */
export function replayStartMs(p: { coveredMs: number; utteranceStartMs: number | undefined; audioNowMs: number; leadMs: number; maxMs: number }): number {
  const anchor = p.utteranceStartMs ?? p.audioNowMs;
  return Math.max(p.coveredMs, anchor - p.leadMs, p.audioNowMs - p.maxMs);
}

/**
 * Maps offsets in one recognition stream (ms of audio it received, which is what Google's
 * resultEndTime counts) to the caller's clock. Replayed and live audio are contiguous as a rule;
 * a jump in the caller's timestamps starts a new segment.
 */
export class StreamTimeline {
  private readonly segments: Array<{ offsetMs: number; audioMs: number }> = [];
  private written = 0;

  /** Audio received by the stream so far, in ms: its age on the audio clock. */
  get writtenMs(): number {
    return this.written;
  }

  /** The stream received `durationMs` of the caller's audio starting at `audioMs`. */
  append(audioMs: number, durationMs: number): void {
    const last = this.segments.at(-1);
    if (!last || last.audioMs + (this.written - last.offsetMs) !== audioMs) this.segments.push({ offsetMs: this.written, audioMs });
    this.written += durationMs;
  }

  toAudioMs(offsetMs: number): number {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]!;
      if (segment.offsetMs <= offsetMs || i === 0) return segment.audioMs + (offsetMs - segment.offsetMs);
    }
    return offsetMs; // nothing written yet: the offset is all there is
  }
}

/**
 * One failure episode: consecutive stream failures with no result in between. Each failure asks
 * for the next attempt; a result ends the episode.
 */
export class RetryEpisode {
  private made = 0;

  /** Attempts (new streams) made in this episode so far. */
  get attempts(): number {
    return this.made;
  }

  /**
   * A stream failed: the attempt to make next and the delay before it, or undefined when exhausted.
   * `draw`, in [0, 1), spreads the delay (0: the schedule's full step).
   */
  next(draw: number): { attempt: number; delayMs: number } | undefined {
    const stepMs = RETRY_DELAYS_MS[this.made];
    if (stepMs === undefined) return undefined;
    this.made++;
    return { attempt: this.made, delayMs: jitteredDelayMs(stepMs, draw) };
  }

  /** A stream delivered a result, or a new episode starts: returns the attempts the old one took. */
  reset(): number {
    const made = this.made;
    this.made = 0;
    return made;
  }
}

export interface RotationSettings {
  /** Past this age a stream is replaced at the first moment with no utterance in progress. */
  rotateMs: number;
  /** At this age a stream is replaced whatever the caller is doing. */
  maxMs: number;
}

/** Whether a stream of `ageMs` (audio received) should be replaced now, and why. */
export function rotationDue(ageMs: number, inUtterance: boolean, settings: RotationSettings): "silence" | "max_age" | undefined {
  if (ageMs >= settings.maxMs) return "max_age";
  if (ageMs >= settings.rotateMs && !inUtterance) return "silence";
  return undefined;
}
