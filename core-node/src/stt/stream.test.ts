// The resilient stream's logic against a scripted recognizer and a manual clock: what each new
// stream is fed, when it is opened, and what reaches the session.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { ResilientSttStream, type Recognizer, type RecognizerEvents, type Scheduler } from "./stream.js";
import type { SttEvent, SttResult } from "./types.js";

/** A 20 ms frame whose bytes all carry its index, so what a stream received can be read back. */
const frame = (n: number) => new Uint8Array(160).fill(n % 256);

class ManualClock implements Scheduler {
  time = 0;
  private timers: Array<{ at: number; run: () => void; id: number }> = [];
  private ids = 0;
  now = () => this.time;
  setTimeout = (run: () => void, ms: number) => {
    const id = ++this.ids;
    this.timers.push({ at: this.time + ms, run, id });
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  };
  /** The backoff's random draws, in turn; 0 (the schedule's full step) once they run out. */
  draws: number[] = [];
  random = () => this.draws.shift() ?? 0;
  get pending(): number {
    return this.timers.length;
  }
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.time = due.at;
      due.run();
    }
    this.time = until;
  }
}

class FakeStream implements Recognizer {
  readonly writes: Uint8Array[] = [];
  cancelled = false;
  constructor(readonly events: RecognizerEvents) {}
  write(audio: Uint8Array): void {
    this.writes.push(audio);
  }
  cancel(): void {
    this.cancelled = true;
  }
  /** Frame indexes received, in order. */
  frames(): number[] {
    const bytes = Buffer.concat(this.writes);
    return Array.from({ length: bytes.length / 160 }, (_, i) => bytes[i * 160]!);
  }
  fail(code: status, message = "injected"): void {
    this.events.onError(Object.assign(new Error(`${code} ${status[code]}: ${message}`), { code }));
  }
}

function setup(settings: Partial<{ rotateMs: number; maxMs: number; ringMs: number; quietBatchMs: number }> = {}) {
  const clock = new ManualClock();
  const streams: FakeStream[] = [];
  const results: SttResult[] = [];
  const events: SttEvent[] = [];
  const stt = new ResilientSttStream(
    (handlers) => {
      const stream = new FakeStream(handlers);
      streams.push(stream);
      return stream;
    },
    { onResult: (result) => results.push(result), onEvent: (event) => events.push(event) },
    { rotateMs: 270_000, maxMs: 290_000, ringMs: 30_000, replayLeadMs: 500, lateFinalGraceMs: 1000, stallSpeechMs: 2500, quietBatchMs: 20, ...settings },
    clock,
  );
  /** Writes frames [from, to) as the session does, 20 ms of audio (and wall time) each. */
  const play = (from: number, to: number, utteranceStartMs?: (n: number) => number | undefined) => {
    for (let n = from; n < to; n++) {
      stt.write(frame(n), n * 20, utteranceStartMs?.(n));
      clock.advance(20);
    }
  };
  return { clock, streams, results, events, stt, play };
}

describe("ResilientSttStream", () => {
  it("writes every frame to one stream and maps results to the caller's clock", () => {
    const { streams, results, stt, play } = setup();
    play(0, 50);
    expect(streams).toHaveLength(1);
    expect(streams[0]!.frames()).toEqual(Array.from({ length: 50 }, (_, n) => n));
    streams[0]!.events.onResult({ transcript: "שלום", isFinal: true, endOffsetMs: 640 });
    expect(results).toEqual([{ transcript: "שלום", isFinal: true, audioEndMs: 640 }]);
    expect(stt.health).toBe("ok");
  });

  it("sends quiet audio in 100 ms requests, and speech and the silence its final waits on frame by frame", () => {
    const { streams, results, stt, play } = setup({ quietBatchMs: 100 });
    const sizes = () => streams[0]!.writes.map((write) => write.length);
    play(0, 13); // quiet: the first frame opens the stream, then 100 ms requests; 2 frames wait
    expect(sizes()).toEqual([160, 800, 800]);
    play(13, 20, () => 260); // an utterance starts: what waited goes at once, then each frame
    expect(sizes()).toEqual([160, 800, 800, 480, 160, 160, 160, 160, 160, 160]);
    streams[0]!.events.onResult({ transcript: "מה", isFinal: false, endOffsetMs: 380 });
    play(20, 23); // the utterance ended, its final is still due: frame by frame
    expect(sizes().slice(10)).toEqual([160, 160, 160]);
    streams[0]!.events.onResult({ transcript: "מה השעה", isFinal: true, endOffsetMs: 440 });
    play(23, 33); // quiet again
    expect(sizes().slice(13)).toEqual([800, 800]);
    expect(results.map((result) => result.audioEndMs)).toEqual([380, 440]);
    // Nothing lost or reordered.
    expect(streams[0]!.frames()).toEqual(Array.from({ length: 33 }, (_, n) => n));
  });

  it("after a retryable failure opens a new stream 200 ms later, fed what no final covered (the gap included)", () => {
    const { clock, streams, results, events, stt, play } = setup();
    // Speech 0.2-0.8 s is finalised; the caller starts again at 1.2 s; the stream breaks at 1.6 s.
    play(0, 60, (n) => (n >= 60 ? 1200 : undefined));
    streams[0]!.events.onResult({ transcript: "כן", isFinal: true, endOffsetMs: 800 });
    play(60, 80, () => 1200);
    streams[0]!.fail(status.UNAVAILABLE, "Connection dropped");
    expect(streams[0]!.cancelled).toBe(true);
    expect(events).toEqual([{ type: "retry", code: "UNAVAILABLE", error: "14 UNAVAILABLE: Connection dropped", attempt: 1, delayMs: 200 }]);
    expect(stt.health).toBe("recovering");
    expect(stt.expectsLateFinal()).toBe(true);

    play(80, 89, () => 1200); // 180 ms: still waiting
    expect(streams).toHaveLength(1);
    play(89, 95, () => 1200); // the retry opened during these frames
    expect(streams).toHaveLength(2);
    // Replayed from the last final (0.8 s), not from the utterance's lead (0.7 s); the gap's audio too; then live.
    expect(streams[1]!.frames()).toEqual(Array.from({ length: 95 - 40 }, (_, i) => 40 + i));

    // Its results are on the caller's clock: offset 0 of the new stream is 0.8 s of the call.
    streams[1]!.events.onResult({ transcript: "מה שעות", isFinal: false, endOffsetMs: 900 });
    expect(events.at(-1)).toEqual({ type: "recovered", attempts: 1 });
    expect(stt.health).toBe("ok");
    streams[1]!.events.onResult({ transcript: "מה שעות הפתיחה", isFinal: true, endOffsetMs: 1000 });
    expect(results.slice(1)).toEqual([
      { transcript: "מה שעות", isFinal: false, audioEndMs: 1700 },
      { transcript: "מה שעות הפתיחה", isFinal: true, audioEndMs: 1800 },
    ]);
    expect(stt.stats).toEqual({ errors: 1, reopens: 1, rotations: 0 });
    expect(clock.pending).toBe(0);
  });

  it("backs off 200, 400, 800, 1600 ms through a failure episode, then is down until restarted", () => {
    const { clock, streams, events, stt, play } = setup();
    play(0, 10);
    const openedAt: number[] = [];
    for (let i = 0; i < 5; i++) {
      streams[i]!.fail(status.UNAVAILABLE);
      const failedAt = clock.time;
      while (streams.length === i + 1 && clock.time - failedAt < 5000) play(clock.time / 20, clock.time / 20 + 1);
      if (streams.length > i + 1) openedAt.push(clock.time - failedAt);
    }
    // Opened on the first frame at or after each delay.
    expect(openedAt).toEqual([200, 400, 800, 1600]);
    expect(events.map((e) => (e.type === "retry" ? e.delayMs : e.type))).toEqual([200, 400, 800, 1600, "down"]);
    expect(events.at(-1)).toMatchObject({ type: "down", code: "UNAVAILABLE", attempts: 4, retryable: true });
    expect(stt.health).toBe("down");

    // Down: audio is kept, no stream is opened on its own.
    const frames = clock.time / 20;
    play(frames, frames + 100);
    expect(streams).toHaveLength(5);
    expect(clock.pending).toBe(0);

    // A new utterance: one new stream, a new episode.
    stt.restart();
    expect(streams).toHaveLength(6);
    expect(stt.health).toBe("ok");
    streams[5]!.fail(status.UNAVAILABLE);
    expect(events.at(-1)).toMatchObject({ type: "retry", attempt: 1, delayMs: 200 });
    expect(stt.stats).toEqual({ errors: 6, reopens: 5, rotations: 0 });
  });

  it("spreads the backoff with its random draw: each wait within (half, all] of its step, and the new stream opens then", () => {
    const opened = (draws: number[]) => {
      const { clock, streams, events, play } = setup();
      clock.draws = [...draws];
      play(0, 10);
      const waits: number[] = [];
      for (let i = 0; i < 4; i++) {
        streams[i]!.fail(status.UNAVAILABLE);
        const failedAt = clock.time;
        while (streams.length === i + 1 && clock.time - failedAt < 5000) play(clock.time / 20, clock.time / 20 + 1);
        waits.push(clock.time - failedAt);
      }
      const delays = events.flatMap((e) => (e.type === "retry" ? [e.delayMs] : []));
      return { waits, delays };
    };
    const a = opened([0.9, 0.9, 0.9, 0.9]);
    const b = opened([0.1, 0.5, 0.3, 0.7]);
    for (const { waits, delays } of [a, b]) {
      [200, 400, 800, 1600].forEach((step, i) => {
        expect(delays[i]).toBeGreaterThan(step / 2);
        expect(delays[i]).toBeLessThanOrEqual(step);
        // Opened on the first 20 ms frame at or after the delay drawn: not before it.
        expect(waits[i]).toBeGreaterThanOrEqual(delays[i]!);
        expect(waits[i]).toBeLessThan(delays[i]! + 20);
      });
    }
    expect(a.delays).toEqual([110, 220, 440, 880]);
    expect(a.delays).not.toEqual(b.delays);
  });

  it("does not retry an error no new stream can fix", () => {
    const { clock, streams, events, stt, play } = setup();
    play(0, 10);
    streams[0]!.fail(status.PERMISSION_DENIED, "Cloud Speech-to-Text API has not been used in project");
    expect(events).toEqual([expect.objectContaining({ type: "down", code: "PERMISSION_DENIED", attempts: 0, retryable: false })]);
    play(10, 200);
    expect(streams).toHaveLength(1);
    expect(clock.pending).toBe(0);
    expect(stt.health).toBe("down");
  });

  it("treats the service ending a stream as a failure to recover from", () => {
    const { streams, events, play } = setup();
    play(0, 10);
    streams[0]!.events.onEnd();
    expect(events).toEqual([expect.objectContaining({ type: "retry", code: "ENDED", attempt: 1 })]);
    play(10, 25);
    expect(streams).toHaveLength(2);
  });

  it("drops a final whose audio is already covered, by an earlier final or by a transcription elsewhere", () => {
    const { streams, results, events, stt, play } = setup();
    play(0, 200);
    streams[0]!.events.onResult({ transcript: "אחת", isFinal: true, endOffsetMs: 1000 });
    streams[0]!.events.onResult({ transcript: "אחת", isFinal: true, endOffsetMs: 1000 });
    stt.coverUpTo(3000);
    streams[0]!.events.onResult({ transcript: "שתיים", isFinal: true, endOffsetMs: 2500 });
    streams[0]!.events.onResult({ transcript: "שלוש", isFinal: true, endOffsetMs: 3600 });
    expect(results.map((r) => r.transcript)).toEqual(["אחת", "שלוש"]);
    expect(events.filter((e) => e.type === "duplicateFinal")).toHaveLength(2);
  });

  it("after covering audio elsewhere, a restarted stream is not fed it again", () => {
    const { streams, stt, play } = setup();
    play(0, 100);
    streams[0]!.fail(status.INVALID_ARGUMENT);
    play(100, 200, (n) => (n >= 120 ? 2400 : undefined)); // an utterance from 2.4 s, transcribed elsewhere up to 3.6 s
    stt.coverUpTo(3600);
    stt.restart();
    expect(streams[1]!.frames()[0]).toBe(180);
  });

  it("rotates an old stream at a moment of silence, feeding the new one so nothing is lost", () => {
    const { streams, events, stt, play } = setup({ rotateMs: 4000, maxMs: 6000 });
    // Speech 3-5 s: no rotation while it lasts, although the stream is past 4 s.
    play(0, 300, (n) => (n >= 150 && n < 250 ? 3000 : undefined));
    expect(events).toEqual([{ type: "rotated", reason: "silence", streamAudioMs: 5000, replayMs: 500 }]);
    expect(streams).toHaveLength(2);
    expect(streams[0]!.cancelled).toBe(true);
    // The new stream starts half a second back, then takes the live audio: every frame reached a stream.
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => (from + i) % 256);
    expect(streams[0]!.frames()).toEqual(range(0, 250));
    expect(streams[1]!.frames()).toEqual(range(226, 300));
    expect(stt.stats.rotations).toBe(1);
  });

  it("rotates at the maximum age even mid-utterance, replaying the utterance from its start", () => {
    const { streams, events, results, play } = setup({ rotateMs: 4000, maxMs: 6000 });
    play(0, 305, (n) => (n >= 200 ? 4000 : undefined)); // an utterance from 4 s; the stream reaches 6 s mid-way
    expect(events).toEqual([{ type: "rotated", reason: "max_age", streamAudioMs: 6000, replayMs: 2520 }]);
    // Fed from half a second before the utterance: 3.5 s onwards.
    expect(streams[1]!.frames().slice(0, 3)).toEqual([175, 176, 177]);
    streams[1]!.events.onResult({ transcript: "שלום", isFinal: true, endOffsetMs: 1500 });
    expect(results).toEqual([{ transcript: "שלום", isFinal: true, audioEndMs: 5000 }]);
  });

  it("expects a late final for a while after a new stream was fed the unfinalised audio", () => {
    const { clock, streams, stt, play } = setup();
    play(0, 50, () => 200);
    streams[0]!.fail(status.INTERNAL, "Received RST_STREAM with code 2");
    play(50, 61, () => 200);
    expect(streams).toHaveLength(2);
    streams[1]!.events.onResult({ transcript: "של", isFinal: false, endOffsetMs: 300 });
    expect(stt.health).toBe("ok");
    expect(stt.expectsLateFinal()).toBe(true);
    clock.advance(1000);
    expect(stt.expectsLateFinal()).toBe(false);
  });

  it("replaces a stream that answers nothing while the caller speaks, and one reported stalled", () => {
    const { streams, events, stt, play } = setup();
    play(0, 100, (n) => (n >= 50 ? 1000 : undefined));
    streams[0]!.events.onResult({ transcript: "מה", isFinal: false, endOffsetMs: 1300 }); // answering so far
    expect(stt.lastResultEndMs).toBe(1300);
    play(100, 300, (n) => (n < 260 ? 1000 : undefined));
    // 2.5 s of the utterance since that partial, with nothing: a hung stream.
    expect(events).toEqual([expect.objectContaining({ type: "retry", code: "STALLED", attempt: 1, error: "no result for 2500 ms of speech" })]);
    expect(streams.length).toBe(2);
    expect(stt.lastResultEndMs).toBeUndefined(); // the new stream has said nothing yet

    stt.reportStall("results stopped 900 ms before the end of speech");
    expect(events.at(-1)).toMatchObject({ type: "retry", code: "STALLED", attempt: 2, delayMs: 400 });
  });

  it("gives a backlog written at once (the caller's network stalled, then caught up) a second to be answered before judging the stream", () => {
    for (const answers of [true, false]) {
      const { clock, streams, events, stt } = setup();
      const speak = (n: number) => stt.write(frame(n), n * 20, 0);
      for (let n = 0; n < 50; n++) {
        speak(n);
        clock.advance(20);
      }
      streams[0]!.events.onResult({ transcript: "מה", isFinal: false, endOffsetMs: 900 });
      clock.advance(3000); // the network holds 3 s of the utterance...
      for (let n = 50; n < 200; n++) speak(n); // ...then delivers it at once
      expect(events).toEqual([]);
      if (answers) streams[0]!.events.onResult({ transcript: "מה השעה", isFinal: false, endOffsetMs: 3900 });
      for (let n = 200; n < 260; n++) {
        speak(n);
        clock.advance(20);
      }
      // Answered: nothing wrong. Still silent a second after the backlog: hung.
      if (answers) expect(events).toEqual([]);
      else expect(events).toEqual([expect.objectContaining({ type: "retry", code: "STALLED", error: "no result for 2500 ms of speech" })]);
    }
  });

  it("ignores a result ending in audio the stream never received, saying so at most once a second; one just past the end is taken as ending there", () => {
    const { clock, streams, results, events, stt, play } = setup();
    play(0, 100); // 2 s received
    const recognizer = streams[0]!.events;
    recognizer.onResult({ transcript: "מחר", isFinal: true, endOffsetMs: 3e12 }); // 3e9 s in: as Google would never say
    recognizer.onResult({ transcript: "מחר", isFinal: true, endOffsetMs: 62_000 }); // a minute past the audio sent
    recognizer.onIgnored("a result has no alternatives");
    expect(results).toEqual([]);
    expect(events).toEqual([{ type: "resultIgnored", reason: "a result ends at 3000000000000 ms of a stream that received 2000 ms", ignored: 1 }]);
    expect(stt.lastResultEndMs).toBeUndefined();

    clock.advance(1000);
    recognizer.onIgnored("a result's transcript is not text");
    expect(events.at(-1)).toEqual({ type: "resultIgnored", reason: "a result's transcript is not text", ignored: 4 });
    // Rounding past the end is no fault; and nothing ignored covered the caller's audio, so the final counts.
    recognizer.onResult({ transcript: "מחר בבוקר", isFinal: true, endOffsetMs: 2400 });
    expect(results).toEqual([{ transcript: "מחר בבוקר", isFinal: true, audioEndMs: 2000 }]);
    expect(stt.health).toBe("ok");
  });

  it("property: no result, however far off its end, keeps a later final from the session (fixed seed)", () => {
    const wrongEnd = fc.oneof(fc.double({ min: 0, max: 1e15, noNaN: true }), fc.integer({ min: 0, max: 10_000 }));
    fc.assert(
      fc.property(fc.array(fc.record({ endOffsetMs: wrongEnd, isFinal: fc.boolean() }), { maxLength: 8 }), (garbage) => {
        const { streams, results, play } = setup();
        play(0, 50);
        for (const { endOffsetMs, isFinal } of garbage) streams[0]!.events.onResult({ transcript: "x", isFinal, endOffsetMs });
        play(50, 100);
        streams[0]!.events.onResult({ transcript: "מה השעה", isFinal: true, endOffsetMs: 2000 });
        expect(results.at(-1)).toEqual({ transcript: "מה השעה", isFinal: true, audioEndMs: 2000 });
        expect(results.every((result) => result.audioEndMs === undefined || result.audioEndMs <= 2000)).toBe(true);
      }),
      { seed: 8008, numRuns: 200 },
    );
  });

  it("stops everything on close", () => {
    const { clock, streams, play, stt } = setup();
    play(0, 10);
    streams[0]!.fail(status.UNAVAILABLE);
    stt.close();
    expect(clock.pending).toBe(0);
    play(10, 100);
    expect(streams).toHaveLength(1);
  });
});
