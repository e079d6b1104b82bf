import { describe, expect, it } from "vitest";
import { MAX_STATE_MESSAGES, MAX_STATE_MESSAGE_CHARS, coreState, type ConversationState } from "@voice/protocol";
import type { ChatMessage } from "../llm/types.js";
import { StateReports, conversationState, resumption } from "./handover.js";

const said: ConversationState["history"] = [
  { role: "assistant", content: "שלום, במה אפשר לעזור?" },
  { role: "user", content: "מה שעות הפתיחה?" },
];

describe("conversationState", () => {
  it("is the history without the system prompt, and the turn count", () => {
    expect(conversationState([{ role: "system", content: "be brief" }, ...said], 1)).toEqual({ turns: 1, history: said });
  });

  it("stays within the protocol's bounds: the latest messages, each cut to the limit", () => {
    const long = Array.from({ length: MAX_STATE_MESSAGES + 5 }, (_, i): ChatMessage => ({ role: i % 2 ? "user" : "assistant", content: `${i} ${"א".repeat(MAX_STATE_MESSAGE_CHARS)}` }));
    const state = conversationState(long, 100);
    expect(state.history).toHaveLength(MAX_STATE_MESSAGES);
    expect(state.history[0]!.content.startsWith("5 ")).toBe(true);
    expect(state.history.every((m) => m.content.length === MAX_STATE_MESSAGE_CHARS)).toBe(true);
    expect(coreState.safeParse({ event: "core.state", state }).success).toBe(true);
  });
});

describe("StateReports", () => {
  it("builds a compact core.state frame, and none while nothing changed", () => {
    const reports = new StateReports();
    const history = [...said];
    const first = reports.frame(history, 1)!;
    expect(first).toBe(JSON.stringify({ event: "core.state", state: { turns: 1, history: said } }));
    expect(reports.frame([...said], 1)).toBeUndefined();
    history.push({ role: "assistant", content: "משמונה עד שש." });
    expect(JSON.parse(reports.frame(history, 1)!).state.history).toHaveLength(3);
    // The same messages with another turn count is a change too.
    expect(reports.frame(history, 2)).toBeDefined();
  });
});

describe("resumption", () => {
  it("restores the conversation; an answer is pending when the caller spoke last", () => {
    expect(resumption({ turns: 1, history: said })).toEqual({ history: said, turns: 1, answerPending: true, unfinishedToolCalls: [] });
    const answered = [...said, { role: "assistant" as const, content: "משמונה עד שש." }];
    expect(resumption({ turns: 1, history: answered })).toMatchObject({ turns: 1, answerPending: false });
  });

  it("starts empty when the previous core sent no state", () => {
    expect(resumption(null)).toEqual({ history: [], turns: 0, answerPending: false, unfinishedToolCalls: [] });
  });

  it("a core that died mid-tool leaves the call to repeat (same id); one that died after the result leaves an answer owed", () => {
    const book = { id: "call_1", name: "book", arguments: '{"slot":"2026-12-07T09:30"}' };
    const calling = [...said, { role: "assistant" as const, content: "אני קובעת.", toolCalls: [book] }];
    expect(resumption({ turns: 1, history: calling })).toMatchObject({ answerPending: true, unfinishedToolCalls: [book] });
    const done = [...calling, { role: "tool" as const, content: '{"result":{"ok":true}}', toolCallId: "call_1", name: "book" }];
    expect(resumption({ turns: 1, history: done })).toMatchObject({ answerPending: true, unfinishedToolCalls: [] });
    const answered = [...done, { role: "assistant" as const, content: "קבעתי." }];
    expect(resumption({ turns: 1, history: answered })).toMatchObject({ answerPending: false, unfinishedToolCalls: [] });
    // The state keeps calls and results, in a shape the protocol accepts, and never starts with an orphaned result.
    const state = conversationState([...done.slice(-1), ...answered], 1);
    expect(state.history[0]!.role).not.toBe("tool");
    expect(coreState.safeParse({ event: "core.state", state: conversationState(answered, 1) }).success).toBe(true);
  });
});
