import { describe, expect, it } from "vitest";
import { callRecord, type CoreRecordPart } from "@voice/protocol/call-record";
import type { ConversationState } from "@voice/protocol/core-link";
import { assembleRecord, LOST_CORE_SUMMARY_ERROR, mergeFacts, wordsOfState, type DeskNotes } from "./record-assembly.js";
import type { CallFacts } from "./record-notes.js";

const SID = "CA00000000000000000000000000000R01";
const STARTED = Date.UTC(2026, 4, 3, 9, 0, 0);
const FACTS: CallFacts = { callSid: SID, from: "+972501234567", to: "+97231234567", startedAt: STARTED };

const PART: CoreRecordPart = {
  callSid: SID,
  conversation: [
    { speaker: "agent", text: "שלום, במה אפשר לעזור?" },
    { speaker: "caller", text: "אני רוצה לקבוע תור" },
  ],
  tools: [{ name: "book", arguments: { day: "sunday" }, ok: true, result: { id: 7 } }],
  callback: null,
  summary: "המטופל קבע תור ליום ראשון.",
  outcome: { intent: "book an appointment", name: null, callbackRequested: false, callbackReason: null },
  endReason: "agent",
};

/** A core state as a core sends it: greeting, a booking, a message left, a tool that never answered. */
const STATE: ConversationState = {
  turns: 3,
  history: [
    { role: "assistant", content: "שלום, במה אפשר לעזור?" },
    { role: "user", content: " אני רוצה לקבוע תור " },
    { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "book", arguments: '{"day":"sunday"}' }] },
    { role: "tool", toolCallId: "c1", name: "book", content: '{"result":{"id":7}}' },
    { role: "assistant", content: "קבעתי לך תור." },
    { role: "assistant", content: "", toolCalls: [{ id: "c2", name: "cancel", arguments: "not json" }] },
    { role: "tool", toolCallId: "c2", name: "cancel", content: '{"error":"no such booking"}' },
    { role: "assistant", content: "", toolCalls: [{ id: "c3", name: "take_message", arguments: '{"name":" דנה ","phone":"050-1234567","reason":"לחזור אליה"}' }] },
    { role: "tool", toolCallId: "c3", name: "take_message", content: '{"result":{"taken":true}}' },
    { role: "assistant", content: "", toolCalls: [{ id: "c4", name: "transfer_to_staff", arguments: '{"reason":"pain"}' }] },
  ],
};

const iso = (ms: number) => new Date(ms).toISOString();
const notes = (over: Partial<DeskNotes>): DeskNotes => ({ facts: FACTS, state: null, part: null, ending: { endReason: "agent", endedAt: STARTED + 95_500 }, ...over });

function assembled(over: Partial<DeskNotes>) {
  const assembly = assembleRecord(notes(over), iso);
  if (!assembly.ok) throw new Error(assembly.reason);
  // Every record is what the receiver's schema accepts.
  expect(callRecord.parse(assembly.record)).toEqual(assembly.record);
  return assembly.record;
}

describe("a call's record from the desk's notes", () => {
  it("takes the edge's facts and ending and the core's part; one record per call (recordId = CallSid)", () => {
    // The state the core last sent holds what its part holds: the greeting and the caller's request.
    const record = assembled({ part: { value: PART, seq: 5 }, state: { value: { turns: 1, history: STATE.history.slice(0, 4) }, seq: 4 } });
    expect(record).toEqual({
      recordId: SID,
      callSid: SID,
      from: "+972501234567",
      to: "+97231234567",
      startedAt: "2026-05-03T09:00:00.000Z",
      endedAt: "2026-05-03T09:01:35.500Z",
      durationMs: 95_500,
      endReason: "agent",
      conversation: PART.conversation,
      tools: PART.tools,
      transfer: null,
      callback: null,
      summary: PART.summary,
      outcome: PART.outcome,
    });
  });

  it("carries the core's summaryError when its summary failed", () => {
    const record = assembled({ part: { value: { ...PART, summary: null, outcome: null, summaryError: "the summary call timed out" }, seq: 2 } });
    expect(record).toMatchObject({ summary: null, outcome: null, summaryError: "the summary call timed out" });
  });

  it("without a core part (the core was lost): the words, tools and message from the last state, no summary, and why", () => {
    const record = assembled({ state: { value: STATE, seq: 3 } });
    expect(record.summary).toBeNull();
    expect(record.outcome).toBeNull();
    expect(record.summaryError).toBe(LOST_CORE_SUMMARY_ERROR);
    expect(record.conversation).toEqual([
      { speaker: "agent", text: "שלום, במה אפשר לעזור?" },
      { speaker: "caller", text: "אני רוצה לקבוע תור" },
      { speaker: "agent", text: "קבעתי לך תור." },
    ]);
    expect(record.tools).toEqual([
      { name: "book", arguments: { day: "sunday" }, ok: true, result: { id: 7 } },
      { name: "cancel", arguments: "not json", ok: false, result: { error: "no such booking" } },
      { name: "take_message", arguments: { name: " דנה ", phone: "050-1234567", reason: "לחזור אליה" }, ok: true, result: { taken: true } },
      { name: "transfer_to_staff", arguments: { reason: "pain" }, ok: false, result: null },
    ]);
    expect(record.callback).toEqual({ name: "דנה", phone: "050-1234567", reason: "לחזור אליה" });
  });

  it("a state after the part (the call came back from a transfer, then its core was lost) wins over the stale part", () => {
    const record = assembled({ part: { value: PART, seq: 2 }, state: { value: STATE, seq: 6 } });
    expect(record.summaryError).toBe(LOST_CORE_SUMMARY_ERROR);
    expect(record.tools).toHaveLength(4);
  });

  it("a part that arrives late but holds less than the latest state (the core a transfer left) does not speak for the call", () => {
    const record = assembled({ part: { value: PART, seq: 9 }, state: { value: STATE, seq: 8 } });
    expect(record.summaryError).toBe(LOST_CORE_SUMMARY_ERROR);
    expect(record.conversation).toHaveLength(3);
  });

  it("a later core part replaces an earlier one: the desk keeps the latest, and it speaks for the call", () => {
    const second: CoreRecordPart = { ...PART, conversation: [...PART.conversation, { speaker: "agent", text: "אשאיר הודעה לצוות." }], summary: "השאיר הודעה." };
    const record = assembled({ part: { value: second, seq: 9 }, state: { value: STATE, seq: 8 }, ending: { endReason: "agent", endedAt: STARTED + 200_000, transfer: { to: "+97231110000", outcome: "no-answer", returnedToAgent: true } } });
    expect(record.summary).toBe("השאיר הודעה.");
    expect(record.conversation).toHaveLength(3);
    expect(record.transfer).toEqual({ to: "+97231110000", outcome: "no-answer", returnedToAgent: true });
  });

  it("no state and no part (the core never spoke): an empty conversation, still a record", () => {
    const record = assembled({ ending: { endReason: "fallback", endedAt: STARTED + 4000 } });
    expect(record).toMatchObject({ endReason: "fallback", conversation: [], tools: [], callback: null, summary: null, summaryError: LOST_CORE_SUMMARY_ERROR, durationMs: 4000 });
  });

  it("a transfer put through is in the record; an ending stamped before the start never gives a negative duration", () => {
    const record = assembled({ part: { value: PART, seq: 1 }, ending: { endReason: "transfer", endedAt: STARTED - 5, transfer: { to: "+97231110000", outcome: "completed", returnedToAgent: false } } });
    expect(record).toMatchObject({ endReason: "transfer", durationMs: 0, transfer: { to: "+97231110000", outcome: "completed", returnedToAgent: false } });
  });

  it("cannot be built without facts or an ending, and says which", () => {
    expect(assembleRecord(notes({ facts: null }), iso)).toEqual({ ok: false, reason: expect.stringContaining("no call facts") });
    expect(assembleRecord(notes({ ending: null }), iso)).toEqual({ ok: false, reason: "the call has no ending" });
  });

  it("keeps the latest words when a state holds more than a record's bound", () => {
    const history = Array.from({ length: 200 }, (_, i) => ({ role: "user" as const, content: `turn ${i}` }));
    const words = wordsOfState({ turns: 200, history: [...history, ...history, ...history] });
    expect(words.conversation).toHaveLength(400);
    expect(words.conversation.at(-1)).toEqual({ speaker: "caller", text: "turn 199" });
  });
});

describe("the facts of a call with several streams", () => {
  it("keep the first stream's start and fill numbers once known", () => {
    const first = { ...FACTS, from: null };
    const later = { ...FACTS, startedAt: STARTED + 60_000 };
    expect(mergeFacts(null, first)).toEqual(first);
    expect(mergeFacts(first, later)).toEqual({ ...FACTS, startedAt: STARTED });
  });
});
