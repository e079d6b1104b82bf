import { FRAME_BYTES, MULAW_SILENCE } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { PlayoutBuffer } from "./playout.js";

const audio = (frames: number, byte = 0x11) => new Uint8Array(frames * FRAME_BYTES).fill(byte);

describe("PlayoutBuffer", () => {
  it("plays one frame per tick and releases a mark on the tick after its audio ended", () => {
    const buffer = new PlayoutBuffer<string>();
    buffer.pushAudio(audio(2), "a");
    buffer.pushMark("1.0:hello", "a");
    buffer.pushAudio(audio(1, 0x22), "b");
    buffer.pushMark("1.end", "b");

    const ticks = Array.from({ length: 5 }, () => buffer.tick());
    expect(ticks.map((t) => t.finishedMarks)).toEqual([[], [], [{ name: "1.0:hello", owner: "a" }], [{ name: "1.end", owner: "b" }], []]);
    expect(ticks.map((t) => t.audioBytes)).toEqual([FRAME_BYTES, FRAME_BYTES, FRAME_BYTES, 0, 0]);
    expect(ticks.map((t) => t.owner)).toEqual(["a", "a", "b", undefined, undefined]);
    expect(ticks[2]!.frame![0]).toBe(0x22);
    expect(ticks[3]!.frame).toBeNull();
    expect(buffer.isEmpty).toBe(true);
  });

  it("pads a short chunk with silence rather than playing past a mark", () => {
    const buffer = new PlayoutBuffer<string>();
    buffer.pushAudio(new Uint8Array(100).fill(0x33), "a");
    buffer.pushMark("m", "a");
    buffer.pushAudio(audio(1), "a");

    const first = buffer.tick();
    expect(first.audioBytes).toBe(100);
    expect(first.frame!.subarray(100).every((b) => b === MULAW_SILENCE)).toBe(true);
    expect(buffer.tick().finishedMarks).toEqual([{ name: "m", owner: "a" }]);
  });

  it("joins chunks that are not frame-sized", () => {
    const buffer = new PlayoutBuffer<string>();
    buffer.pushAudio(new Uint8Array(100).fill(1), "a");
    buffer.pushAudio(new Uint8Array(100).fill(2), "b");
    const first = buffer.tick();
    expect(first.audioBytes).toBe(FRAME_BYTES);
    expect([first.frame![99], first.frame![100]]).toEqual([1, 2]);
    expect(buffer.tick().audioBytes).toBe(40);
  });

  it("clear drops the audio and hands back every pending mark in order", () => {
    const buffer = new PlayoutBuffer<string>();
    buffer.pushAudio(audio(50), "a");
    buffer.pushMark("2.0:a", "a");
    buffer.pushAudio(audio(50), "a");
    buffer.pushMark("2.end", "a");
    buffer.tick();

    expect(buffer.clear()).toEqual([
      { name: "2.0:a", owner: "a" },
      { name: "2.end", owner: "a" },
    ]);
    expect(buffer.isEmpty).toBe(true);
    expect(buffer.tick()).toEqual({ finishedMarks: [], frame: null, audioBytes: 0, owner: undefined });
  });
});
