// Outbound Twilio frames, built as strings: answer audio is sent in bursts of many frames, and a
// template is far cheaper than building and serialising an object per 20 ms frame.
import { splitFrames } from "@voice/protocol";

export class OutboundFrames {
  private readonly sid: string;

  constructor(streamSid: string) {
    this.sid = JSON.stringify(streamSid);
  }

  /** Cuts mu-law audio into 20 ms media frames; the last one is padded with silence. */
  media(mulaw: Uint8Array): string[] {
    return splitFrames(mulaw).map((chunk) => {
      const payload = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString("base64");
      return `{"event":"media","streamSid":${this.sid},"media":{"payload":"${payload}"}}`;
    });
  }

  mark(name: string): string {
    return `{"event":"mark","streamSid":${this.sid},"mark":{"name":${JSON.stringify(name)}}}`;
  }

  clear(): string {
    return `{"event":"clear","streamSid":${this.sid}}`;
  }
}
