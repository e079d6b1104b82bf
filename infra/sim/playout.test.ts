import { FRAME_BYTES, MULAW_SILENCE } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { PlayoutBuffer } from "./playout.js";

const audio = (frames: number, byte = 0x11) => new Uint8Array(frames * FRAME_BYTES).fill(byte);

describe("PlayoutBuffer", () => {
  it("plays one frame per tick and releases a mark on the tick after its audio ended", () => {
    const buffer = new PlayoutBuffer();
    buffer.pushAudio(audio(2));
    buffer.pushMark("1.0:hello");
    buffer.pushAudio(audio(1, 0x22));
    buffer.pushMark("1.end");

    const ticks = Array.from({ length: 5 }, () => buffer.tick());
    expect(ticks.map((t) => t.finishedMarks)).toEqual([[], [], ["1.0:hello"], ["1.end"], []]);
    expect(ticks.map((t) => t.audioBytes)).toEqual([FRAME_BYTES, FRAME_BYTES, FRAME_BYTES, 0, 0]);
    expect(ticks[2]!.frame![0]).toBe(0x22);
    expect(ticks[3]!.frame).toBeNull();
    expect(buffer.isEmpty).toBe(true);
  });

  it("pads a short chunk with silence rather than playing past a mark", () => {
    const buffer = new PlayoutBuffer();
    buffer.pushAudio(new Uint8Array(100).fill(0x33));
    buffer.pushMark("m");
    buffer.pushAudio(audio(1));

    const first = buffer.tick();
    expect(first.audioBytes).toBe(100);
    expect(first.frame!.subarray(100).every((b) => b === MULAW_SILENCE)).toBe(true);
    expect(buffer.tick().finishedMarks).toEqual(["m"]);
  });

  it("joins chunks that are not frame-sized", () => {
    const buffer = new PlayoutBuffer();
    buffer.pushAudio(new Uint8Array(100).fill(1));
    buffer.pushAudio(new Uint8Array(100).fill(2));
    const first = buffer.tick();
    expect(first.audioBytes).toBe(FRAME_BYTES);
    expect([first.frame![99], first.frame![100]]).toEqual([1, 2]);
    expect(buffer.tick().audioBytes).toBe(40);
  });

  it("clear drops the audio and hands back every pending mark in order", () => {
    const buffer = new PlayoutBuffer();
    buffer.pushAudio(audio(50));
    buffer.pushMark("2.0:a");
    buffer.pushAudio(audio(50));
    buffer.pushMark("2.end");
    buffer.tick();

    expect(buffer.clear()).toEqual(["2.0:a", "2.end"]);
    expect(buffer.isEmpty).toBe(true);
    expect(buffer.tick()).toEqual({ finishedMarks: [], frame: null, audioBytes: 0 });
  });
});
