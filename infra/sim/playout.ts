// Twilio's playout buffer: agent audio is queued as it arrives and heard 20 ms per tick; a mark is
// queued behind the audio received before it and is due once that audio has been heard. Each item
// carries an owner (the simulator's answer it belongs to), so what is heard can be credited to it.
import { FRAME_BYTES, MULAW_SILENCE } from "@voice/protocol";

type Queued<Owner> = { kind: "audio"; bytes: Uint8Array; owner: Owner } | { kind: "mark"; name: string; owner: Owner };

export interface OwnedMark<Owner> {
  name: string;
  owner: Owner;
}

export interface PlayoutTick<Owner> {
  /** Marks whose audio has been heard in full, in order: echo them now. */
  finishedMarks: OwnedMark<Owner>[];
  /** What the caller hears in this 20 ms (silence-padded), or null when nothing was buffered. */
  frame: Uint8Array | null;
  /** Bytes of agent audio in `frame` (the rest is padding). */
  audioBytes: number;
  /** Whose audio `frame` starts with (undefined when nothing played). */
  owner: Owner | undefined;
}

export class PlayoutBuffer<Owner> {
  private queue: Queued<Owner>[] = [];
  /** Bytes of the head audio item already heard. */
  private headOffset = 0;

  get isEmpty(): boolean {
    return this.queue.length === 0;
  }

  pushAudio(bytes: Uint8Array, owner: Owner): void {
    if (bytes.length > 0) this.queue.push({ kind: "audio", bytes, owner });
  }

  pushMark(name: string, owner: Owner): void {
    this.queue.push({ kind: "mark", name, owner });
  }

  /** Drops all buffered audio; returns the pending marks, which Twilio echoes at once. */
  clear(): OwnedMark<Owner>[] {
    const marks = this.queue.flatMap((item) => (item.kind === "mark" ? [{ name: item.name, owner: item.owner }] : []));
    this.queue = [];
    this.headOffset = 0;
    return marks;
  }

  /** Advances one 20 ms tick: releases marks whose audio ended with the previous tick, plays the next frame. */
  tick(): PlayoutTick<Owner> {
    const finishedMarks: OwnedMark<Owner>[] = [];
    for (let head = this.queue[0]; head?.kind === "mark"; head = this.queue[0]) {
      finishedMarks.push({ name: head.name, owner: head.owner });
      this.queue.shift();
    }
    const first = this.queue[0];
    if (!first) return { finishedMarks, frame: null, audioBytes: 0, owner: undefined };

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
    return { finishedMarks, frame, audioBytes: filled, owner: first.owner };
  }
}
