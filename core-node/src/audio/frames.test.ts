import { describe, expect, it } from "vitest";
import { FRAME_BYTES, MULAW_SILENCE, coreToEdge } from "@voice/protocol";
import { OutboundFrames } from "./frames.js";

describe("OutboundFrames", () => {
  const frames = new OutboundFrames('MZ"odd"sid');

  it("cuts audio into valid 20 ms media frames, padding the last with silence", () => {
    const audio = new Uint8Array(FRAME_BYTES * 2 + 10).map((_, i) => i % 200);
    const media = frames.media(audio);
    expect(media).toHaveLength(3);
    const payloads = media.map((text) => {
      const frame = coreToEdge.parse(JSON.parse(text));
      if (frame.event !== "media") throw new Error("not media");
      expect(frame.streamSid).toBe('MZ"odd"sid');
      return new Uint8Array(Buffer.from(frame.media.payload, "base64"));
    });
    expect(payloads.map((p) => p.length)).toEqual([FRAME_BYTES, FRAME_BYTES, FRAME_BYTES]);
    expect([...payloads[0]!, ...payloads[1]!, ...payloads[2]!.subarray(0, 10)]).toEqual([...audio]);
    expect(payloads[2]!.subarray(10).every((b) => b === MULAW_SILENCE)).toBe(true);
  });

  it("builds mark and clear frames Twilio accepts", () => {
    expect(coreToEdge.parse(JSON.parse(frames.mark('1.2:אמר "שלום"')))).toEqual({
      event: "mark",
      streamSid: 'MZ"odd"sid',
      mark: { name: '1.2:אמר "שלום"' },
    });
    expect(coreToEdge.parse(JSON.parse(frames.clear()))).toEqual({ event: "clear", streamSid: 'MZ"odd"sid' });
  });
});
