import { describe, expect, it } from "vitest";
import { ConversationHistory, estimateTokens } from "./history.js";

/** A message of exactly `tokens` estimated tokens. */
const sized = (tokens: number) => "x".repeat((tokens - 4) * 3);

describe("estimateTokens", () => {
  it("is ceil(chars / 3) plus 4 per message", () => {
    expect(estimateTokens({ role: "user", content: "" })).toBe(4);
    expect(estimateTokens({ role: "user", content: "abcd" })).toBe(6);
    expect(estimateTokens({ role: "assistant", content: "שלום עולם" })).toBe(7);
  });
});

describe("ConversationHistory", () => {
  function conversation() {
    const history = new ConversationHistory();
    history.add("assistant", sized(10)); // greeting
    history.add("user", sized(10));
    history.add("assistant", sized(10));
    history.add("user", sized(10));
    history.add("assistant", sized(10));
    history.add("user", sized(10)); // the question being answered
    return history;
  }

  it("keeps everything within the budget", () => {
    const history = conversation();
    expect(history.bound(60)).toBe(0);
    expect(history.messages).toHaveLength(6);
  });

  it("drops the oldest messages first, a question together with its answer", () => {
    const history = conversation();
    const [, , , question2, answer2, question3] = history.messages;
    // 60 tokens; 35 allowed: the greeting goes alone, then the first exchange as a pair.
    expect(history.bound(35)).toBe(3);
    expect(history.messages).toEqual([question2, answer2, question3]);
  });

  it("never drops the latest message, even when it alone is over budget", () => {
    const history = new ConversationHistory();
    history.add("user", sized(10));
    const last = history.add("user", sized(500));
    history.bound(100);
    expect(history.messages).toEqual([last]);
  });

  it("removes an entry by identity, and leaves the rest alone when the bound dropped it already", () => {
    const history = conversation();
    const greeting = history.messages[0]!;
    history.bound(35);
    const kept = [...history.messages];
    history.remove(greeting);
    expect(history.messages).toHaveLength(kept.length);
    expect(history.messages.every((message, i) => message === kept[i])).toBe(true);
    history.remove(kept[1]!);
    expect(history.messages).toEqual([kept[0], kept[2]]);
  });
});
