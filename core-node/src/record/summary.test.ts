import { describe, expect, it } from "vitest";
import type { RecordPartBody } from "./record-part.js";
import { MAX_TRANSCRIPT_CHARS, parseSummary, summaryRequest, transcript } from "./summary.js";

const part = (conversation: RecordPartBody["conversation"], tools: RecordPartBody["tools"] = []): RecordPartBody => ({
  callSid: "CA1",
  conversation,
  tools,
  callback: null,
  endReason: "stop",
});

const call = part(
  [
    { speaker: "agent", text: "שלום, במה אפשר לעזור?" },
    { speaker: "caller", text: "קוראים לי דנה,\nאני רוצה שיחזרו אליי" },
  ],
  [{ name: "take_message", arguments: { reason: "לחזור לדנה" }, ok: true, result: { taken: true } }],
);

describe("summaryRequest", () => {
  it("asks in the call's language, never to invent, for the JSON shape, over a transcript of one line per utterance", () => {
    const request = summaryRequest(call, "he-IL");
    if (!request.ok) throw new Error(request.reason);
    const [system, user] = request.messages;
    expect(system!.role).toBe("system");
    expect(system!.content).toMatch(/[\u05d0-\u05ea]/);
    expect(system!.content).toContain("לעולם אל תמציא");
    expect(system!.content).toContain("רק במה שכתוב בתמליל");
    expect(system!.content).toContain('"callbackRequested"');
    expect(user).toEqual({
      role: "user",
      content: ["תמליל השיחה:", "agent: שלום, במה אפשר לעזור?", "caller: קוראים לי דנה, אני רוצה שיחזרו אליי", 'tool: take_message {"reason":"לחזור לדנה"} -> ok {"taken":true}'].join("\n"),
    });
  });

  it("uses English instructions elsewhere, asking for the call's language", () => {
    const english = summaryRequest(call, "en-US");
    const french = summaryRequest(call, "fr-FR");
    if (!english.ok || !french.ok) throw new Error("expected requests");
    expect(english.messages[0]!.content).toContain("Never invent anything");
    expect(english.messages[0]!.content).not.toContain("fr-FR");
    expect(french.messages[0]!.content).toContain("in the language fr-FR");
  });

  it("asks nothing when the caller said nothing", () => {
    expect(summaryRequest(part([{ speaker: "agent", text: "שלום?" }]), "he-IL")).toEqual({ ok: false, reason: "the caller said nothing" });
  });
});

describe("transcript", () => {
  it("marks failed and unanswered tools, and cuts a long call from the front", () => {
    const tools: RecordPartBody["tools"] = [
      { name: "book", arguments: {}, ok: false, result: { error: "taken" } },
      { name: "transfer_to_staff", arguments: { reason: "x" }, ok: false, result: null },
    ];
    expect(transcript(part([], tools)).split("\n")).toEqual(['tool: book {} -> failed {"error":"taken"}', 'tool: transfer_to_staff {"reason":"x"} -> no result']);
    const long = transcript(part(Array.from({ length: 400 }, (_, i) => ({ speaker: "caller" as const, text: `${i} ${"מ".repeat(100)}` }))));
    expect(long.length).toBeLessThanOrEqual(MAX_TRANSCRIPT_CHARS);
    expect(long.startsWith("(…)\n")).toBe(true);
    expect(long.endsWith(`caller: 399 ${"מ".repeat(100)}`)).toBe(true);
  });
});

describe("parseSummary", () => {
  const outcome = { intent: "קביעת תור", name: null, callbackRequested: false, callbackReason: null };

  it("reads a well-formed answer", () => {
    expect(parseSummary(JSON.stringify({ summary: " המתקשר רצה תור. ", outcome }))).toEqual({ ok: true, summary: "המתקשר רצה תור.", outcome });
  });

  it("refuses a malformed answer with a one-line reason that quotes none of it", () => {
    const secretWords = "דנה 050-1234567";
    const cases: Array<[string, RegExp]> = [
      [`not json ${secretWords}`, /^the summary answer is not JSON$/],
      [JSON.stringify({ summary: secretWords }), /outcome/],
      [JSON.stringify({ summary: "", outcome }), /summary/],
      [JSON.stringify({ summary: "x", outcome: { ...outcome, callbackRequested: secretWords } }), /outcome\.callbackRequested/],
      [JSON.stringify({ summary: "x".repeat(2001), outcome }), /summary/],
      [JSON.stringify([secretWords]), /body/],
    ];
    for (const [answer, reason] of cases) {
      const reading = parseSummary(answer);
      expect(reading.ok, answer).toBe(false);
      if (reading.ok) continue;
      expect(reading.reason).toMatch(reason);
      expect(reading.reason).toMatch(/^[^\n]{1,200}$/);
      expect(reading.reason).not.toContain("דנה");
    }
  });
});
