import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { peekEvent } from "@voice/protocol/core-link";
import { isMediaFrame, looksLikeJsonObject, parseJson } from "./frames.js";
import { anyText, RUNS } from "../testing/fuzz-inputs.js";

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

describe("frame recognition, on any input (property-based)", () => {
  const media = (payload: string) =>
    JSON.stringify({ event: "media", sequenceNumber: "7", streamSid: "MZ1", media: { track: "inbound", chunk: "6", timestamp: "120", payload } });

  it("never throws, and answers what the text is", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(looksLikeJsonObject(text)).toBe(text.startsWith("{"));
        const parsed = parseJson(text);
        if (parsed !== undefined) expect(parsed).toEqual(JSON.parse(text));
        const event = peekEvent(text);
        if (event !== undefined) expect(text.slice(0, 80)).toContain(`"event":"${event}"`);
        if (isMediaFrame(text)) expect(text.startsWith('{"event":"media"')).toBe(true);
      }),
      { seed: 8001, numRuns: RUNS },
    );
  });

  it("claims no JSON frame whose event is not media, wherever the key sits", () => {
    fc.assert(
      fc.property(fc.json(), fc.string({ unit: "binary" }), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }), (json, event, rest) => {
        const claimed = (text: string) => !isMediaFrame(text) || (JSON.parse(text) as { event?: unknown }).event === "media";
        expect(claimed(json)).toBe(true);
        expect(claimed(JSON.stringify({ event, ...rest, event2: "media" }))).toBe(true);
        expect(claimed(JSON.stringify({ ...rest, event }))).toBe(true);
      }),
      { seed: 8002, numRuns: RUNS },
    );
  });

  it("recognises a media frame whatever its payload: invalid base64, odd length, huge, empty", () => {
    const payloads = fc.oneof(fc.base64String(), fc.string({ unit: "binary" }), fc.string({ unit: "binary-ascii", minLength: 1000, maxLength: 4000 }));
    fc.assert(
      fc.property(payloads, (payload) => {
        const frame = media(payload);
        expect(isMediaFrame(frame)).toBe(true);
        expect(peekEvent(frame)).toBe("media");
      }),
      { seed: 8003, numRuns: RUNS },
    );
  });

  it("reads the event name of any frame written event-first, when it needs no escaping", () => {
    const plainName = fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).filter((name) => JSON.stringify(name) === `"${name}"`);
    fc.assert(
      fc.property(plainName, fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }), (event, rest) => {
        // Written out, not JSON.stringify({event, ...rest}): JS puts integer-like keys ("0") first.
        const others = JSON.stringify(rest).slice(1);
        const frame = `{"event":${JSON.stringify(event)}${others === "}" ? "" : ","}${others}`;
        expect(peekEvent(frame)).toBe(event);
      }),
      { seed: 8004, numRuns: RUNS },
    );
  });
});
