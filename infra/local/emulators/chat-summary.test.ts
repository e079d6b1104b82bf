// The emulator's summary answers, to the request exactly as the core builds it (record/summary.ts).
import { describe, expect, it } from "vitest";
import type { RecordPartBody } from "../../../core-node/src/record/record-part.js";
import { parseSummary, summaryRequest } from "../../../core-node/src/record/summary.js";
import { summaryReply } from "./chat-summary.js";
import type { ChatRequest } from "./chat-wire.js";

type Utterance = RecordPartBody["conversation"][number];
const caller = (text: string): Utterance => ({ speaker: "caller", text });
const agent = (text: string): Utterance => ({ speaker: "agent", text });

/** The core's summary request for this conversation, as it goes on the wire. */
function requestFor(conversation: Utterance[], tools: RecordPartBody["tools"] = [], language = "he-IL"): ChatRequest {
  const request = summaryRequest({ callSid: "CA1", conversation, tools, callback: null, endReason: "stop" }, language);
  if (!request.ok) throw new Error(request.reason);
  return { model: "gpt-4o-mini", messages: request.messages, response_format: { type: "json_object" } };
}

/** The emulator's answer, read as the core reads it. */
function answer(request: ChatRequest) {
  const text = summaryReply(request);
  if (text === undefined) throw new Error("not answered as a summary");
  const reading = parseSummary(text);
  if (!reading.ok) throw new Error(reading.reason);
  return reading;
}

describe("the chat emulator's summary", () => {
  it("answers the core's request with JSON the core accepts, taken only from the transcript", () => {
    const reading = answer(requestFor([agent("שלום, קוראים לי נועה, במה אפשר לעזור?"), caller("אני רוצה לקבוע תור")]));
    // The agent's own name is not the caller's; nothing was asked about a call back.
    expect(reading.outcome).toEqual({ intent: "קביעת תור", name: null, callbackRequested: false, callbackReason: null });
    expect(reading.summary).toBe("המתקשר פנה בנושא: קביעת תור.");
  });

  it("takes the name only as the caller said it", () => {
    const name = (said: string) => answer(requestFor([caller(said)])).outcome.name;
    expect(name("שמי דנה כהן.")).toBe("דנה כהן");
    expect(name("קוראים לי דנה ואני רוצה לבטל תור")).toBe("דנה");
    expect(name("My name is Dana, what are your hours?")).toBe("Dana");
    expect(name("מה שעות הפתיחה?")).toBeNull();
  });

  it("has a call back when take_message was called (its reason) or when the caller asked for one (their words)", () => {
    const message = answer(
      requestFor([caller("אפשר להשאיר הודעה?")], [{ name: "take_message", arguments: { reason: "הצעת מחיר -> דחוף" }, ok: true, result: { taken: true } }]),
    );
    expect(message.outcome).toMatchObject({ callbackRequested: true, callbackReason: "הצעת מחיר -> דחוף" });
    expect(message.summary).toContain("ביקש שיחזרו אליו");
    const asked = answer(requestFor([caller("תחזרו אליי מחר בבוקר")]));
    expect(asked.outcome).toMatchObject({ callbackRequested: true, callbackReason: "תחזרו אליי מחר בבוקר" });
  });

  it("answers in English for an English call, and says unclear when no intent is recognisable", () => {
    expect(answer(requestFor([caller("What are your opening hours?")], [], "en-US")).outcome).toEqual({
      intent: "opening hours",
      name: null,
      callbackRequested: false,
      callbackReason: null,
    });
    expect(answer(requestFor([caller("הממ")])).outcome.intent).toBe("לא ברור");
  });

  it("leaves any other request to the other rules", () => {
    const summary = requestFor([caller("שלום")]);
    expect(summaryReply({ ...summary, response_format: undefined })).toBeUndefined();
    expect(summaryReply({ model: "gpt-4o-mini", messages: [{ role: "system", content: "You are a receptionist." }, { role: "user", content: "שלום" }], response_format: { type: "json_object" } })).toBeUndefined();
  });
});
