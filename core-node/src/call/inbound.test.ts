// parseInbound against whatever a peer can send: random text and bytes, random JSON, and valid
// frames of every kind mutated (a field removed, a wrong type, a huge or broken or odd-sized audio
// payload). It never throws; what it accepts is a frame of the link's schema (media: exactly one
// 20 ms frame of audio); what it refuses comes with one short line saying why.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FRAME_BYTES, MULAW_SILENCE, edgeToCore } from "@voice/protocol";
import { looksLikeMedia, parseInbound, type Inbound } from "./inbound.js";

const SEED = 8008;

const silence = Buffer.from(new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE)).toString("base64");

/** One valid frame of each kind the edge sends the core. */
const VALID_FRAMES: Array<Record<string, unknown>> = [
  { event: "connected", protocol: "Call", version: "1.0.0" },
  {
    event: "start",
    sequenceNumber: "1",
    streamSid: "MZ1",
    start: {
      accountSid: "AC1",
      streamSid: "MZ1",
      callSid: "CA1",
      tracks: ["inbound"],
      customParameters: { callSid: "CA1" },
      mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
    },
  },
  { event: "media", sequenceNumber: "2", streamSid: "MZ1", media: { track: "inbound", chunk: "1", timestamp: "0", payload: silence } },
  { event: "mark", sequenceNumber: "3", streamSid: "MZ1", mark: { name: "1.1:שלום" } },
  { event: "dtmf", sequenceNumber: "4", streamSid: "MZ1", dtmf: { track: "inbound_track", digit: "5" } },
  { event: "stop", sequenceNumber: "5", streamSid: "MZ1", stop: { accountSid: "AC1", callSid: "CA1" } },
  { event: "edge.greeting", played: true, text: "שלום", mark: "greeting" },
  { event: "edge.resume", state: { turns: 1, history: [{ role: "user", content: "היי" }] }, attempt: 1 },
];

/** What every outcome must be: a frame the schema accepts, or a refusal with a one-line reason. */
function expectDefined(outcome: Inbound): void {
  if (outcome.ok) {
    expect(edgeToCore.safeParse(outcome.frame).success).toBe(true);
    if (outcome.frame.event === "media") expect(Buffer.from(outcome.frame.media.payload, "base64").length).toBe(FRAME_BYTES);
    return;
  }
  expect(outcome.reason).toMatch(/^[^\n\r\u2028\u2029]{1,201}$/u);
  expect(outcome.reason).not.toMatch(/\p{Cc}/u);
  if (outcome.event !== undefined) expect(outcome.event.length).toBeLessThanOrEqual(40);
}

const text = (json: unknown) => Buffer.from(JSON.stringify(json));

/** Every path to a value in `value` (object keys, array indexes). */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== "object") return [prefix];
  const children = Object.entries(value).flatMap(([key, child]) => paths(child, [...prefix, Array.isArray(value) ? Number(key) : key]));
  return prefix.length === 0 ? children : [prefix, ...children];
}

function mutate(frame: Record<string, unknown>, path: Array<string | number>, change: { remove: true } | { value: unknown }): unknown {
  const copy = structuredClone(frame) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if ("remove" in change) delete parent[last];
  else parent[last] = change.value;
  return copy;
}

/** Values of the wrong type or shape for any field. */
const wrongValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, 0, -1, 1e308, "", " ", [], {}, true, "media", "start", "\u0000", "a\nb"),
  fc.string({ unit: "binary", maxLength: 50 }),
);

/** Audio payloads a broken or hostile edge might send. */
const badPayload = fc.oneof(
  // Valid base64 of the wrong number of bytes (odd-length audio, empty, a little over).
  fc.integer({ min: 0, max: 400 }).filter((n) => n !== FRAME_BYTES).map((n) => Buffer.alloc(n, 0x7f).toString("base64")),
  // Huge: 48 KB of audio, within the link's frame size limit.
  fc.constant(Buffer.alloc(48 * 1024, 0x7f).toString("base64")),
  // Not base64 at all, or base64 with junk in it.
  fc.string({ maxLength: 300 }).map((junk) => `${silence.slice(0, 100)}${junk}!`),
  fc.constantFrom("@@@", "====", "AAAA=AAA", `${silence}\n`, `${silence} `, silence.slice(1), `${silence}A`),
);

describe("parseInbound", () => {
  it("accepts every valid frame kind", () => {
    for (const frame of VALID_FRAMES) expect(parseInbound(text(frame), false)).toMatchObject({ ok: true, frame: { event: frame.event } });
  });

  it("never throws on random text or bytes, text or binary, and refuses it with a one-line reason", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 2000 }).map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 2000 }).map(Buffer.from)), fc.boolean(), (data, isBinary) => {
        expectDefined(parseInbound(data, isBinary));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("never throws on random JSON, whatever its event", () => {
    const event = fc.oneof(fc.constantFrom(...VALID_FRAMES.map((f) => f.event as string), "edge.", "core.state", "", "x".repeat(70_000)), fc.string());
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })).chain((rest) => event.map((e) => ({ event: e, ...rest })))), (json) => {
        expectDefined(parseInbound(text(json), false));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("never throws on a valid frame with a field removed or given the wrong type, and takes only what still fits the schema", () => {
    const mutation = fc
      .constantFrom(...VALID_FRAMES)
      .chain((frame) =>
        fc.tuple(fc.constant(frame), fc.constantFrom(...paths(frame)), fc.oneof(fc.constant({ remove: true as const }), wrongValue.map((value) => ({ value })))),
      );
    fc.assert(
      fc.property(mutation, ([frame, path, change]) => {
        expectDefined(parseInbound(text(mutate(frame, path, change)), false));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it("refuses a media frame whose payload is not one 20 ms frame of base64 audio, saying what is wrong", () => {
    const media = VALID_FRAMES.find((f) => f.event === "media")!;
    fc.assert(
      fc.property(badPayload, (payload) => {
        const outcome = parseInbound(text(mutate(media, ["media", "payload"], { value: payload })), false);
        expectDefined(outcome);
        expect(outcome).toMatchObject({ ok: false, event: "media", reason: expect.stringMatching(/payload/) });
      }),
      { seed: SEED, numRuns: 300 },
    );
    const odd = parseInbound(text(mutate(media, ["media", "payload"], { value: Buffer.alloc(3).toString("base64") })), false);
    expect(odd).toEqual({ ok: false, reason: `media payload of 3 bytes, expected ${FRAME_BYTES}`, event: "media" });
    const broken = parseInbound(text(mutate(media, ["media", "payload"], { value: "@@@" })), false);
    expect(broken).toMatchObject({ ok: false, reason: "media.payload: payload is not base64" });
  });

  it("keeps a reason on one short line when the peer's own keys are quoted in it", () => {
    const start = VALID_FRAMES.find((f) => f.event === "start")!;
    const evil = mutate(start, ["start", "customParameters"], { value: { [`a\nFAKE LOG LINE ${"x".repeat(500)}`]: 1 } });
    const outcome = parseInbound(text(evil), false);
    expectDefined(outcome);
    expect(outcome.ok).toBe(false);
  });
});

describe("looksLikeMedia (the flood guard's look at a frame before anything reads it)", () => {
  it("knows a media frame as the edge relays it by its first bytes, and nothing else", () => {
    for (const frame of VALID_FRAMES) expect(looksLikeMedia(Buffer.from(JSON.stringify(frame)), false), String(frame.event)).toBe(frame.event === "media");
    const media = Buffer.from(JSON.stringify(VALID_FRAMES.find((f) => f.event === "media")));
    expect(looksLikeMedia(media, true)).toBe(false);
    for (const text of ['{"event":"media"', '{"event":"mediax","media":{}}', '{ "event":"media","media":{}}', '{"event":"mark","media":1}']) {
      expect(looksLikeMedia(Buffer.from(text), false), text).toBe(false);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const buffer = Buffer.from(bytes);
        expect(looksLikeMedia(buffer, false)).toBe(buffer.length > 16 && buffer.subarray(0, 16).toString("latin1") === '{"event":"media"');
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
