// What the caller hears, as the softphone's audio worklet plays it: the agent's 8 kHz mu-law, brought
// up to the speakers' rate (resampler.ts), queued in order with its marks. A mark is echoed when the
// playback reaches it, once all the audio sent before it has played; `clear` drops the queue at once
// and echoes every mark still in it, as Twilio does. Each echo says when the audio before the mark
// (its segment) began to play, on the caller's audio clock: the moment the caller first heard it; so
// does a start, told as soon as a segment plays and its mark is known (the mark follows a sentence's
// audio, which begins to play as soon as its first frame is in).
// Pure: frames and marks in, samples and echoes out.
import { mulawToPcm } from "@voice/protocol/mulaw";
import { LINE_RATE } from "./capture.js";
import { Resampler } from "./resampler.js";

export interface MarkEcho {
  name: string;
  /** false: echoed because a clear dropped it, not because its audio played out. */
  played: boolean;
  /** When the first sample of the audio before it (since the previous mark) played, in the clock's samples; null: none did. */
  startedAt: number | null;
}

/** A segment began to play, its mark already queued: the mark's name and the clock at its first sample. */
export interface SegmentStart {
  name: string;
  startedAt: number;
}

export interface Rendered {
  echoes: MarkEcho[];
  starts: SegmentStart[];
}

type Item = { kind: "audio"; samples: Float32Array; next: number; segment: number } | { kind: "mark"; name: string; segment: number };

export class PlaybackQueue {
  private readonly resampler: Resampler;
  private readonly items: Item[] = [];
  /** The segment audio joins: the audio since the last mark. */
  private segment = 0;
  private readonly segmentStarts = new Map<number, number>();
  /** Segments whose start has been told. */
  private readonly told = new Set<number>();
  private queued = 0;
  /** The last render played agent audio. */
  playing = false;
  clears = 0;

  constructor(readonly sampleRate: number) {
    this.resampler = new Resampler(LINE_RATE, sampleRate);
  }

  /** Audio waiting to be played, in ms. */
  get queuedMs(): number {
    return (this.queued / this.sampleRate) * 1000;
  }

  pushAudio(mulaw: Uint8Array): void {
    const pcm = mulawToPcm(mulaw);
    this.append(this.resampler.push(Float32Array.from(pcm, (sample) => sample / 32768)));
  }

  /** A mark after the audio pushed so far; the resampler gives up the audio's tail first (a mark ends a sentence). */
  pushMark(name: string): void {
    this.append(this.resampler.flush());
    this.items.push({ kind: "mark", name, segment: this.segment++ });
  }

  /** Drops everything queued at once; returns the echoes of the marks dropped with it. */
  clear(): MarkEcho[] {
    const echoes = this.items.flatMap((item) => (item.kind === "mark" ? [this.echo(item, false)] : []));
    this.items.length = 0;
    this.queued = 0;
    this.segmentStarts.clear();
    this.told.clear();
    this.segment++;
    this.resampler.reset();
    this.playing = false;
    this.clears++;
    return echoes;
  }

  /**
   * Fills `out` with the next samples (silence once the queue is empty); `clock`: the caller's audio
   * clock at out[0], in samples. Returns the echoes of the marks the playback reached, and the
   * segments that began.
   */
  render(out: Float32Array, clock: number): Rendered {
    const echoes: MarkEcho[] = [];
    const starts: SegmentStart[] = [];
    const tell = (segment: number) => {
      const startedAt = this.segmentStarts.get(segment);
      const mark = this.items.find((item) => item.kind === "mark" && item.segment === segment);
      if (startedAt === undefined || mark?.kind !== "mark" || this.told.has(segment)) return;
      this.told.add(segment);
      starts.push({ name: mark.name, startedAt });
    };
    // A segment that began before its mark came: told once the mark is in.
    if (this.items[0]?.kind === "audio") tell(this.items[0].segment);
    let written = 0;
    this.playing = false;
    for (;;) {
      const head = this.items[0];
      if (!head) break;
      if (head.kind === "mark") {
        echoes.push(this.echo(head, true));
        this.items.shift();
        continue;
      }
      if (written === out.length) break;
      if (head.next === 0 && !this.segmentStarts.has(head.segment)) {
        this.segmentStarts.set(head.segment, clock + written);
        tell(head.segment);
      }
      const take = Math.min(out.length - written, head.samples.length - head.next);
      out.set(head.samples.subarray(head.next, head.next + take), written);
      head.next += take;
      written += take;
      this.queued -= take;
      this.playing = true;
      if (head.next === head.samples.length) this.items.shift();
    }
    out.fill(0, written);
    return { echoes, starts };
  }

  private append(samples: Float32Array): void {
    if (samples.length === 0) return;
    this.items.push({ kind: "audio", samples: samples.slice(), next: 0, segment: this.segment });
    this.queued += samples.length;
  }

  private echo(mark: Extract<Item, { kind: "mark" }>, played: boolean): MarkEcho {
    const startedAt = this.segmentStarts.get(mark.segment) ?? null;
    this.segmentStarts.delete(mark.segment);
    this.told.delete(mark.segment);
    return { name: mark.name, played, startedAt };
  }
}
