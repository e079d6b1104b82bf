// The softphone's playback: marks come back when the audio before them has played (not when they
// arrive), each with the moment its audio began on the caller's clock; a clear silences at once and
// gives back the marks it dropped, as Twilio does.
import { MULAW_SILENCE, pcmToMulaw } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { PlaybackQueue, type MarkEcho, type SegmentStart } from "./playback.js";

const RATE = 48_000;
const QUANTUM = 128;

/** `ms` of a loud 8 kHz mu-law tone. */
const agentAudio = (ms: number) => pcmToMulaw(Int16Array.from({ length: ms * 8 }, (_, n) => Math.round(12_000 * Math.sin((2 * Math.PI * 500 * n) / 8000))));

/** Renders `quanta` blocks from clock `from`; returns the echoes, the segment starts, the samples and the clock. */
function play(queue: PlaybackQueue, quanta: number, from = 0) {
  const echoes: (MarkEcho & { at: number })[] = [];
  const starts: SegmentStart[] = [];
  const samples: number[] = [];
  let clock = from;
  for (let q = 0; q < quanta; q++) {
    const out = new Float32Array(QUANTUM);
    const rendered = queue.render(out, clock);
    for (const echo of rendered.echoes) echoes.push({ ...echo, at: clock });
    starts.push(...rendered.starts);
    samples.push(...out);
    clock += QUANTUM;
  }
  return { echoes, starts, samples, clock };
}

describe("PlaybackQueue", () => {
  it("echoes a mark once the audio before it has played, saying when that audio began", () => {
    const queue = new PlaybackQueue(RATE);
    queue.pushAudio(agentAudio(100));
    queue.pushMark("1.0:first sentence");
    expect(queue.queuedMs).toBeCloseTo(100, 0);

    // 100 ms at 48 kHz is 4800 samples: 37.5 quanta.
    const early = play(queue, 37, 1000);
    expect(early.echoes).toEqual([]);
    // Its start is told at once: the mark was already queued behind the audio.
    expect(early.starts).toEqual([{ name: "1.0:first sentence", startedAt: 1000 }]);
    expect(queue.playing).toBe(true);
    const rest = play(queue, 2, early.clock);
    expect(rest.echoes).toEqual([{ name: "1.0:first sentence", played: true, startedAt: 1000, at: 1000 + 37 * QUANTUM }]);
    expect(Math.max(...rest.samples.slice(QUANTUM)).valueOf()).toBe(0);
    expect(queue.queuedMs).toBe(0);
  });

  it("tells a segment's start once its mark comes, when its audio began to play before the mark was in", () => {
    const queue = new PlaybackQueue(RATE);
    queue.pushAudio(agentAudio(100));
    const before = play(queue, 4, 500);
    expect(before.starts).toEqual([]);
    queue.pushMark("4.1:late mark");
    expect(play(queue, 1, before.clock).starts).toEqual([{ name: "4.1:late mark", startedAt: 500 }]);
    expect(play(queue, 1, before.clock + QUANTUM).starts).toEqual([]);
  });

  it("plays the agent's audio at its level and echoes a mark with no audio before it at once", () => {
    const queue = new PlaybackQueue(RATE);
    queue.pushMark("greeting");
    queue.pushAudio(agentAudio(60));
    queue.pushMark("1.0:x");
    const { echoes, samples } = play(queue, 30);
    expect(echoes.map((echo) => [echo.name, echo.startedAt])).toEqual([
      ["greeting", null],
      ["1.0:x", 0],
    ]);
    const loud = samples.slice(500, 2500);
    const rms = Math.sqrt(loud.reduce((sum, s) => sum + s * s, 0) / loud.length);
    expect(rms).toBeCloseTo(12_000 / 32768 / Math.SQRT2, 1);
  });

  it("empties at once on clear, giving back the marks it dropped, and then plays what comes after", () => {
    const queue = new PlaybackQueue(RATE);
    queue.pushAudio(agentAudio(200));
    queue.pushMark("2.0:a");
    queue.pushAudio(agentAudio(200));
    queue.pushMark("2.1:b");
    play(queue, 10, 0);
    expect(queue.clear()).toEqual([
      { name: "2.0:a", played: false, startedAt: 0 },
      { name: "2.1:b", played: false, startedAt: null },
    ]);
    expect(queue.queuedMs).toBe(0);
    expect(queue.clears).toBe(1);
    const after = play(queue, 5, 10 * QUANTUM);
    expect(after.samples.every((s) => s === 0)).toBe(true);
    expect(queue.playing).toBe(false);

    queue.pushAudio(agentAudio(20));
    queue.pushMark("3.0:c");
    const next = play(queue, 10, after.clock);
    expect(next.echoes.map((echo) => [echo.name, echo.played, echo.startedAt])).toEqual([["3.0:c", true, after.clock]]);
  });

  it("plays mu-law silence as silence", () => {
    const queue = new PlaybackQueue(RATE);
    queue.pushAudio(new Uint8Array(160).fill(MULAW_SILENCE));
    queue.pushMark("m");
    expect(play(queue, 10).samples.every((s) => Math.abs(s) < 1e-3)).toBe(true);
  });
});
