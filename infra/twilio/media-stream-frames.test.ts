import { twilioInboundFrame } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import { connectedMessage, dtmfMessage, markMessage, mediaMessage, startMessage, stopMessage } from "./media-stream-frames.js";

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
