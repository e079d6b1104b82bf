import { describe, expect, it } from "vitest";
import { DEFAULT_HOLD_WORDS, UnfinishedWords } from "./unfinished.js";

const hebrew = UnfinishedWords.forLanguage("he-IL", DEFAULT_HOLD_WORDS);
const english = UnfinishedWords.forLanguage("en-US", DEFAULT_HOLD_WORDS);

describe("UnfinishedWords", () => {
  it("holds after a trailing function word, a lone prefix or prefixes before one, in Hebrew", () => {
    expect(hebrew.reason("אני רוצה לקבוע תור של", "")).toBe("function_word");
    expect(hebrew.reason("אני רוצה לבוא עם", "")).toBe("function_word");
    expect(hebrew.reason("תור למחר ו", "")).toBe("function_word");
    expect(hebrew.reason("תור למחר וגם", "")).toBe("function_word");
    expect(hebrew.reason("אני לא בטוח אבל,", "")).toBe("function_word");
    // A whole word that starts with a prefix letter is a word, not a fragment.
    expect(hebrew.reason("אני רוצה לבטל", "")).toBeUndefined();
    expect(hebrew.reason("תודה רבה", "")).toBeUndefined();
  });

  it("holds after a filler, and not after a finished English sentence, whatever its punctuation or case", () => {
    expect(english.reason("I'd like to come in on Tuesday at", "")).toBe("function_word");
    expect(english.reason("Tuesday AND", "")).toBe("function_word");
    expect(english.reason("I need, um...", "")).toBe("filler");
    expect(hebrew.reason("אני צריך אממ", "")).toBe("filler");
    expect(english.reason("Tuesday at nine thirty a.m.", "")).toBeUndefined();
    expect(english.reason("that's what it is", "")).toBeUndefined();
    expect(english.reason("", "")).toBeUndefined();
  });

  it("holds after digits or number words only when the agent asked for a number", () => {
    expect(english.reason("zero five two", "What is your phone number?")).toBe("number");
    expect(english.reason("052 555", "What is your phone number?")).toBe("number");
    expect(hebrew.reason("אפס חמש שתיים", "מה מספר הטלפון שלך?")).toBe("number");
    expect(english.reason("I'll come at 5", "When would you like to come?")).toBeUndefined();
    expect(english.reason("my number is 052 555 0143 thanks", "What is your phone number?")).toBeUndefined();
    // Ten digits make a whole phone number: it may end there.
    expect(english.reason("052 555 014", "What is your phone number?")).toBe("number");
    expect(english.reason("052 555 0143", "What is your phone number?")).toBeUndefined();
  });

  it("uses the language's entry, its prefix's, or none (never holds)", () => {
    const table = { ...DEFAULT_HOLD_WORDS, "en-gb": { ...DEFAULT_HOLD_WORDS.en!, unfinished: ["innit"] } };
    expect(UnfinishedWords.forLanguage("en-GB", table).reason("at", "")).toBeUndefined();
    expect(UnfinishedWords.forLanguage("en-GB", table).reason("right innit", "")).toBe("function_word");
    expect(UnfinishedWords.forLanguage("fr-FR", DEFAULT_HOLD_WORDS).reason("et", "")).toBeUndefined();
  });
});
