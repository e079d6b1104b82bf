// Twilio's playout buffer: agent audio is queued as it arrives and heard 20 ms per tick; a mark is
// queued behind the audio received before it and is due once that audio has been heard.
import { FRAME_BYTES, MULAW_SILENCE } from "@voice/protocol";

type Queued = { kind: "audio"; bytes: Uint8Array } | { kind: "mark"; name: string };

export interface PlayoutTick {
  /** Marks whose audio has been heard in full, in order: echo them now. */
  finishedMarks: string[];
  /** What the caller hears in this 20 ms (silence-padded), or null when nothing was buffered. */
  frame: Uint8Array | null;
  /** Bytes of agent audio in `frame` (the rest is padding). */
  audioBytes: number;
}

export class PlayoutBuffer {
  private queue: Queued[] = [];
  /** Bytes of the head audio item already heard. */
  private headOffset = 0;

  get isEmpty(): boolean {
    return this.queue.length === 0;
  }

  pushAudio(bytes: Uint8Array): void {
    if (bytes.length > 0) this.queue.push({ kind: "audio", bytes });
  }

  pushMark(name: string): void {
    this.queue.push({ kind: "mark", name });
  }

  /** Drops all buffered audio; returns the pending marks, which Twilio echoes at once. */
  clear(): string[] {
    const marks = this.queue.flatMap((item) => (item.kind === "mark" ? [item.name] : []));
    this.queue = [];
    this.headOffset = 0;
    return marks;
  }

  /** Advances one 20 ms tick: releases marks whose audio ended with the previous tick, plays the next frame. */
  tick(): PlayoutTick {
    const finishedMarks: string[] = [];
    while (this.queue[0]?.kind === "mark") finishedMarks.push((this.queue.shift() as { name: string }).name);
    if (this.queue.length === 0) return { finishedMarks, frame: null, audioBytes: 0 };

    const frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
    let filled = 0;
    // Stops at a mark so the mark is released exactly when the audio before it ends.
    for (let head = this.queue[0]; filled < FRAME_BYTES && head?.kind === "audio"; head = this.queue[0]) {
      const take = Math.min(FRAME_BYTES - filled, head.bytes.length - this.headOffset);
      frame.set(head.bytes.subarray(this.headOffset, this.headOffset + take), filled);
      filled += take;
      this.headOffset += take;
      if (this.headOffset === head.bytes.length) {
        this.queue.shift();
        this.headOffset = 0;
      }
    }
    return { finishedMarks, frame, audioBytes: filled };
  }
}
