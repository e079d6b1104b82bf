import { describe, expect, it } from "vitest";
import { parseStreamTwiml } from "./twiml.js";

describe("TwiML", () => {
  it("reads the stream URL and its parameters, entities decoded", () => {
    const twiml = parseStreamTwiml(
      `<?xml version="1.0"?><Response><Connect><Stream url="wss://edge.example/twilio/media">` +
        `<Parameter name="callSid" value="CA1"/><Parameter name="note" value="a &amp; b"/></Stream></Connect></Response>`,
    );
    expect(twiml).toEqual({ streamUrl: "wss://edge.example/twilio/media", parameters: { callSid: "CA1", note: "a & b" } });
  });

  it("rejects an answer without <Connect><Stream> with a one-line reason", () => {
    expect(() => parseStreamTwiml("<Response><Say>closed</Say></Response>")).toThrow(/no usable <Connect><Stream>/);
    expect(() => parseStreamTwiml("<Response><Connect><Stream url=\"http://x\"/></Connect></Response>")).toThrow(/ws/);
  });
});
