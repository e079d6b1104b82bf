import { twilioInboundFrame } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { connectedMessage, dtmfMessage, markMessage, mediaMessage, startMessage, stopMessage } from "./frames.js";
import { parseStreamTwiml } from "./twiml.js";

const ids = { accountSid: "AC" + "1".repeat(32), callSid: "CA" + "2".repeat(32), streamSid: "MZ" + "3".repeat(32) };

describe("Twilio frames", () => {
  it("builds frames that match the protocol schemas", () => {
    const frames = [
      connectedMessage(),
      startMessage(1, ids, { callSid: ids.callSid }),
      mediaMessage(2, ids.streamSid, 0, new Uint8Array(160)),
      markMessage(3, ids.streamSid, "1.0:שלום"),
      dtmfMessage(4, ids.streamSid, "#"),
      stopMessage(5, ids),
    ];
    for (const frame of frames) expect(twilioInboundFrame.parse(JSON.parse(JSON.stringify(frame)))).toEqual(frame);
  });

  it("stamps media with the audio clock: 20 ms per tick, chunks from 1", () => {
    const media = mediaMessage(9, ids.streamSid, 7, new Uint8Array(160));
    expect(media.media).toMatchObject({ track: "inbound", chunk: "8", timestamp: "140" });
  });
});

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
