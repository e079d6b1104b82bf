import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { coreEnd } from "@voice/protocol/call-control";
import { coreMove, coreState, MAX_STATE_MESSAGE_CHARS } from "@voice/protocol/core-link";
import { classifyCoreFrame } from "./core-frames.js";
import { parseJson } from "./frames.js";
import { anyText, RUNS } from "../testing/fuzz-inputs.js";

const conversation = fc.record({
  turns: fc.nat(),
  history: fc.array(fc.record({ role: fc.constantFrom("user" as const, "assistant" as const), content: fc.string({ unit: "binary", maxLength: 60 }) }), {
    maxLength: 5,
  }),
});

describe("frames from the core", () => {
  it("pass Twilio's frames to the caller unparsed and act on valid control messages", () => {
    expect(classifyCoreFrame('{"event":"media","streamSid":"MZ1","media":{"payload":"/w=="}}')).toEqual({ kind: "to caller" });
    expect(classifyCoreFrame('{"event":"clear","streamSid":"MZ1"}')).toEqual({ kind: "to caller" });
    const state = { turns: 2, history: [{ role: "user", content: "שלום" }] };
    expect(classifyCoreFrame(JSON.stringify({ event: "core.state", state }))).toEqual({ kind: "state", state });
    expect(classifyCoreFrame('{"event":"core.move","reason":"draining"}')).toEqual({ kind: "move", reason: "draining" });
    expect(classifyCoreFrame('{"event":"core.hello"}')).toEqual({ kind: "unknown", event: "core.hello" });
    expect(classifyCoreFrame('{"event":"core.end","reason":"agent"}')).toEqual({ kind: "end", end: { event: "core.end", reason: "agent" } });
    expect(classifyCoreFrame('{"event":"core.end","reason":"transfer","transferReason":"קביעת תור"}')).toEqual({
      kind: "end",
      end: { event: "core.end", reason: "transfer", transferReason: "קביעת תור" },
    });
  });

  it("drop an invalid control message with its reason", () => {
    // The issue says what was wrong in words (zod/mini loads no language unless told).
    expect(classifyCoreFrame('{"event":"core.state","state":{"turns":-1,"history":[]}}')).toMatchObject({
      kind: "invalid",
      reason: "invalid core.state",
      issue: expect.stringMatching(/^Too small: expected number to be >=0/),
    });
    const tooLong = { turns: 1, history: [{ role: "user", content: "x".repeat(MAX_STATE_MESSAGE_CHARS + 1) }] };
    expect(classifyCoreFrame(JSON.stringify({ event: "core.state", state: tooLong }))).toMatchObject({ kind: "invalid" });
    expect(classifyCoreFrame('{"event":"core.move"')).toMatchObject({ kind: "invalid", reason: "invalid core.move" });
    expect(classifyCoreFrame('{"event":"core.end","reason":"bored"}')).toMatchObject({ kind: "invalid", reason: "invalid core.end" });
    expect(classifyCoreFrame(JSON.stringify({ event: "core.end", reason: "transfer", transferReason: "x".repeat(201) }))).toMatchObject({ kind: "invalid" });
  });
});

describe("frames from the core, on any input (property-based)", () => {
  it("never throw; a control message is acted on only when it validates, and dropped with a reason otherwise", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const frame = classifyCoreFrame(text);
        const ours = text.startsWith('{"event":"core.') || text.startsWith('{"event":"edge.');
        expect(frame.kind === "to caller").toBe(!ours);
        const json = parseJson(text);
        expect(frame.kind === "state").toBe(coreState.safeParse(json).success && text.startsWith('{"event":"core.state"'));
        expect(frame.kind === "move").toBe(coreMove.safeParse(json).success && text.startsWith('{"event":"core.move"'));
        expect(frame.kind === "end").toBe(coreEnd.safeParse(json).success && text.startsWith('{"event":"core.end"'));
        if (frame.kind === "invalid") expect(frame.reason).toMatch(/^invalid core\.(state|move|end)$/);
      }),
      { seed: 8031, numRuns: RUNS },
    );
  });

  it("keep any valid conversation state as sent, and refuse it once a field is broken", () => {
    const breakage = fc.constantFrom<[string, unknown]>(["turns", -1], ["turns", 1.5], ["turns", "3"], ["history", null], ["history", [{ role: "system", content: "" }]]);
    fc.assert(
      fc.property(conversation, breakage, (state, [field, bad]) => {
        expect(classifyCoreFrame(JSON.stringify({ event: "core.state", state }))).toEqual({ kind: "state", state });
        const broken = classifyCoreFrame(JSON.stringify({ event: "core.state", state: { ...state, [field]: bad } }));
        expect(broken).toMatchObject({ kind: "invalid", reason: "invalid core.state", issue: expect.any(String) });
      }),
      { seed: 8032, numRuns: RUNS },
    );
  });
});
