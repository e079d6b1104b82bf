import { describe, expect, it } from "vitest";
import { isMediaFrame, parseJson } from "./frames.js";

describe("isMediaFrame", () => {
  it("recognises a media frame written event-first, as Twilio and the core write them", () => {
    expect(isMediaFrame('{"event":"media","sequenceNumber":"3","media":{"payload":"/w=="},"streamSid":"MZ1"}')).toBe(true);
  });

  it("leaves everything else to the parsing path", () => {
    for (const text of ['{"event":"mediaX"}', '{"event":"mark","mark":{"name":"x"}}', '{"streamSid":"MZ1","event":"media"}', " {\"event\":\"media\"}", ""]) {
      expect(isMediaFrame(text)).toBe(false);
    }
  });
});

describe("parseJson", () => {
  it("answers undefined for text that is not JSON", () => {
    expect(parseJson('{"a":1}')).toEqual({ a: 1 });
    expect(parseJson("not json")).toBeUndefined();
  });
});
