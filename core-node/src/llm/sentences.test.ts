import { describe, expect, it } from "vitest";
import { SentenceSplitter } from "./sentences.js";

/** Feeds `chunks` one by one; returns what each push released and the final flush. */
function run(language: string, chunks: string[]): { released: string[][]; flushed: string[] } {
  const splitter = new SentenceSplitter(language);
  const released = chunks.map((chunk) => splitter.push(chunk));
  return { released, flushed: splitter.flush() };
}

describe("SentenceSplitter", () => {
  it("releases a sentence only when the next one has started", () => {
    const { released, flushed } = run("en-US", ["Hello there. ", "How are", " you? Fine."]);
    expect(released).toEqual([[], ["Hello there."], ["How are you?"]]);
    expect(flushed).toEqual(["Fine."]);
  });

  it("does not split decimals or times that arrive in pieces", () => {
    const { released, flushed } = run("en-US", ["It costs 3.", "5 dollars. We open at 8:", "30 tomorrow."]);
    expect(released.flat()).toEqual(["It costs 3.5 dollars."]);
    expect(flushed).toEqual(["We open at 8:30 tomorrow."]);
  });

  it("splits Hebrew, token by token", () => {
    const text = "המרפאה פתוחה מ-8:30 עד 18:00. אפשר לקבוע תור למחר? כמובן, באיזו שעה נוח לך?";
    const tokens = text.match(/.{1,3}/gsu)!;
    const { released, flushed } = run("he-IL", tokens);
    expect([...released.flat(), ...flushed]).toEqual([
      "המרפאה פתוחה מ-8:30 עד 18:00.",
      "אפשר לקבוע תור למחר?",
      "כמובן, באיזו שעה נוח לך?",
    ]);
  });

  it("keeps several sentences from one chunk in order", () => {
    const { released, flushed } = run("he-IL", ["שלום. מה שלומך? טוב", " מאוד."]);
    expect(released).toEqual([["שלום.", "מה שלומך?"], []]);
    expect(flushed).toEqual(["טוב מאוד."]);
  });

  it("releases nothing for whitespace and flushes nothing when empty", () => {
    const { released, flushed } = run("en-US", ["", "  ", "\n"]);
    expect(released.flat()).toEqual([]);
    expect(flushed).toEqual([]);
  });
});
