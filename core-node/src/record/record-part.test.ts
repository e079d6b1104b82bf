import { coreRecordPart } from "@voice/protocol";
import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../llm/types.js";
import { MAX_RECORD_TOOLS as MAX_TOOLS, MAX_RECORD_UTTERANCES as MAX_UTTERANCES, toolResult } from "@voice/protocol";
import { recordPart } from "./record-part.js";

const call = (id: string, name: string, args: object | string) => ({ id, name, arguments: typeof args === "string" ? args : JSON.stringify(args) });
const result = (toolCallId: string, name: string, content: object | string): ChatMessage => ({
  role: "tool",
  toolCallId,
  name,
  content: typeof content === "string" ? content : JSON.stringify(content),
});

describe("recordPart", () => {
  it("gives the conversation as heard, each tool with what came back, and no tool message as speech", () => {
    const history: ChatMessage[] = [
      { role: "assistant", content: "שלום, הגעתם למרפאה. במה אפשר לעזור?" },
      { role: "user", content: "אני רוצה לקבוע תור" },
      { role: "assistant", content: "רגע, אני בודקת.", toolCalls: [call("c1", "find_slots", {})] },
      result("c1", "find_slots", { result: { slots: ["2026-12-07T09:30"] } }),
      { role: "assistant", content: "יש תור ב-2026-12-07 בשעה 09:30. לקבוע?" },
      { role: "user", content: "כן" },
      { role: "assistant", content: "", toolCalls: [call("c2", "book", { slot: "2026-12-07T09:30", name: "דנה" })] },
      result("c2", "book", { error: "the slot was taken" }),
      { role: "assistant", content: "סליחה, התור נתפס." },
    ];
    const part = recordPart("CA1", "stop", history);
    expect(part.conversation).toEqual([
      { speaker: "agent", text: "שלום, הגעתם למרפאה. במה אפשר לעזור?" },
      { speaker: "caller", text: "אני רוצה לקבוע תור" },
      { speaker: "agent", text: "רגע, אני בודקת." },
      { speaker: "agent", text: "יש תור ב-2026-12-07 בשעה 09:30. לקבוע?" },
      { speaker: "caller", text: "כן" },
      { speaker: "agent", text: "סליחה, התור נתפס." },
    ]);
    expect(part.tools).toEqual([
      { name: "find_slots", arguments: {}, ok: true, result: { slots: ["2026-12-07T09:30"] } },
      { name: "book", arguments: { slot: "2026-12-07T09:30", name: "דנה" }, ok: false, result: { error: "the slot was taken" } },
    ]);
    expect(part.callback).toBeNull();
    expect(part).toMatchObject({ callSid: "CA1", endReason: "stop" });
  });

  it("pairs results by id even when the caller spoke in between, and lists a call without a result as ok false, result null", () => {
    const history: ChatMessage[] = [
      { role: "user", content: "תעבירי אותי לנציג" },
      { role: "assistant", content: "מעבירה אותך.", toolCalls: [call("t1", "transfer_to_staff", { reason: "wants a person" }), call("t2", "lookup", {})] },
      { role: "user", content: "תודה" },
      result("t2", "lookup", { result: 7 }),
    ];
    expect(recordPart("CA2", "transfer", history).tools).toEqual([
      { name: "transfer_to_staff", arguments: { reason: "wants a person" }, ok: false, result: null },
      { name: "lookup", arguments: {}, ok: true, result: 7 },
    ]);
  });

  it("takes the call back from the last take_message call the core did not refuse", () => {
    const history: ChatMessage[] = [
      { role: "user", content: "תחזרו אליי" },
      { role: "assistant", content: "", toolCalls: [call("m1", "take_message", { reason: "first try" })] },
      result("m1", "take_message", { result: { taken: true } }),
      { role: "user", content: "בעצם, שמי דנה, 050-1234567, לגבי הצעת מחיר" },
      { role: "assistant", content: "רשמתי.", toolCalls: [call("m2", "take_message", { name: " דנה ", phone: "050-1234567", reason: "הצעת מחיר" })] },
      result("m2", "take_message", { result: { taken: true } }),
    ];
    expect(recordPart("CA3", "agent", history).callback).toEqual({ name: "דנה", phone: "050-1234567", reason: "הצעת מחיר" });
    // A take_message the core refused took no message.
    const refused: ChatMessage[] = [
      ...history,
      { role: "assistant", content: "", toolCalls: [call("m9", "take_message", { reason: "never taken" })] },
      result("m9", "take_message", { error: "take_message is not available on this call" }),
    ];
    expect(recordPart("CA3", "agent", refused).callback).toEqual({ name: "דנה", phone: "050-1234567", reason: "הצעת מחיר" });
    // A message without name, phone or reason still counts as a message left.
    const bare: ChatMessage[] = [{ role: "assistant", content: "", toolCalls: [call("m3", "take_message", {})] }];
    expect(recordPart("CA4", "agent", bare).callback).toEqual({ name: null, phone: null, reason: "" });
  });

  it("keeps arguments that are not JSON as their text, and fits the protocol's bounds however long the call", () => {
    const long = "א".repeat(5000);
    const history: ChatMessage[] = [];
    for (let i = 0; i < 300; i++) {
      history.push({ role: "user", content: long });
      history.push({ role: "assistant", content: `answer ${i}`, toolCalls: [call(`x${i}`, "n".repeat(80), "{not json")] });
      history.push(result(`x${i}`, "n", "plain text"));
    }
    const part = recordPart("CA5", "e".repeat(60), history);
    expect(part.conversation).toHaveLength(MAX_UTTERANCES);
    expect(part.conversation.at(-1)).toEqual({ speaker: "agent", text: "answer 299" });
    expect(part.tools).toHaveLength(MAX_TOOLS);
    expect(part.tools[0]).toMatchObject({ arguments: "{not json", ok: false, result: "plain text" });
    expect(coreRecordPart.safeParse({ ...part, summary: null, outcome: null, summaryError: "x" }).success).toBe(true);
  });
});

describe("toolResult", () => {
  it("reads the core's result and error forms; anything else is a failure carrying the content", () => {
    expect(toolResult('{"result":{"booked":true}}')).toEqual({ ok: true, result: { booked: true } });
    expect(toolResult('{"result":null}')).toEqual({ ok: true, result: null });
    expect(toolResult('{"error":"timeout"}')).toEqual({ ok: false, result: { error: "timeout" } });
    expect(toolResult("[1,2]")).toEqual({ ok: false, result: "[1,2]" });
    expect(toolResult(undefined)).toEqual({ ok: false, result: null });
  });
});
