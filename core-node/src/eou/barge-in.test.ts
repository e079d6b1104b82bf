import { describe, expect, it } from "vitest";
import { DEFAULT_BACKCHANNEL_WORDS } from "../config.js";
import { BackchannelLexicon, normalisedWords } from "./backchannel.js";
import { BargeInJudge, bargeInVerdict, classifyWords } from "./barge-in.js";

const hebrew = BackchannelLexicon.forLanguage("he-IL", DEFAULT_BACKCHANNEL_WORDS);
const english = BackchannelLexicon.forLanguage("en-US", DEFAULT_BACKCHANNEL_WORDS);
const settings = { minMs: 200, backchannelMaxMs: 600 };

describe("backchannel words", () => {
  it("normalises case, punctuation, diacritics and drawn-out sounds", () => {
    expect(normalisedWords("  Uh-huh... RIGHT?! ")).toEqual(["uh", "huh", "right"]);
    expect(normalisedWords("כֵּן, נָכוֹן.")).toEqual(["כן", "נכון"]);
    expect(normalisedWords("Mmm, okaaay")).toEqual(["mm", "okaay"]);
    expect(normalisedWords("…!?")).toEqual([]);
  });

  it("recognises a transcript made only of the language's backchannels", () => {
    for (const text of ["כן", "כן.", "כן כן", "אהה, נכון", "אוקיי בסדר", "טוב!", "אההה"]) {
      expect(hebrew.isBackchannelOnly(text), text).toBe(true);
    }
    for (const text of ["Yeah.", "uh-huh", "Uh huh, right", "mhm", "OK ok", "Mmm"]) {
      expect(english.isBackchannelOnly(text), text).toBe(true);
    }
  });

  it("treats any other word as real, and nothing said as not a backchannel", () => {
    for (const text of ["כן, אבל מתי?", "רגע", "לא", "כן אני רוצה לקבוע תור", ""]) {
      expect(hebrew.isBackchannelOnly(text), text).toBe(false);
    }
    expect(english.isBackchannelOnly("yes but wait")).toBe(false);
  });

  it("uses the list of the call's language only, by its prefix, with a full tag winning over the prefix", () => {
    expect(hebrew.isBackchannelOnly("yeah")).toBe(false);
    expect(english.isBackchannelOnly("כן")).toBe(false);
    const table = { ...DEFAULT_BACKCHANNEL_WORDS, "en-gb": ["quite"] };
    expect(BackchannelLexicon.forLanguage("en-GB", table).isBackchannelOnly("quite")).toBe(true);
    expect(BackchannelLexicon.forLanguage("en-GB", table).isBackchannelOnly("yeah")).toBe(false);
    // A language without a list: every word is real.
    expect(BackchannelLexicon.forLanguage("fr-FR", DEFAULT_BACKCHANNEL_WORDS).isBackchannelOnly("oui")).toBe(false);
  });

  it("matches configured multi-word phrases only whole", () => {
    const lexicon = new BackchannelLexicon(["I see", "sure"]);
    expect(lexicon.isBackchannelOnly("I see, sure")).toBe(true);
    expect(lexicon.isBackchannelOnly("I")).toBe(false);
    expect(lexicon.isBackchannelOnly("see")).toBe(false);
  });
});

describe("the barge-in decision", () => {
  it("never interrupts on voiced audio shorter than BARGE_IN_MIN_MS, whatever was heard", () => {
    expect(bargeInVerdict(180, "words", settings)).toEqual({ interrupt: false, why: "too_short" });
    expect(bargeInVerdict(0, "none", settings)).toEqual({ interrupt: false, why: "too_short" });
  });

  it("interrupts at once past the minimum when a real word was heard", () => {
    expect(bargeInVerdict(200, "words", settings)).toEqual({ interrupt: true, reason: "words" });
  });

  it("holds on backchannels until BACKCHANNEL_MAX_MS of voiced audio", () => {
    expect(bargeInVerdict(400, "backchannel", settings)).toEqual({ interrupt: false, why: "backchannel" });
    expect(bargeInVerdict(600, "backchannel", settings)).toEqual({ interrupt: true, reason: "long_speech" });
  });

  it("never interrupts on sound without words, however long (music, a TV, a tone on the line)", () => {
    expect(bargeInVerdict(580, "none", settings)).toEqual({ interrupt: false, why: "no_words" });
    expect(bargeInVerdict(60_000, "none", settings)).toEqual({ interrupt: false, why: "no_words" });
  });

  it("classifies the transcript so far", () => {
    expect(classifyWords("  ", hebrew)).toBe("none");
    expect(classifyWords("כן כן", hebrew)).toBe("backchannel");
    expect(classifyWords("כן, רגע", hebrew)).toBe("words");
  });

  it("judges one utterance: waits through a 'כן', interrupts when a real word follows, once", () => {
    const judge = new BargeInJudge(settings, hebrew);
    expect(judge.decide(100)).toBeUndefined();
    judge.hear("כן");
    expect(judge.decide(300)).toBeUndefined();
    judge.hear("כן רגע");
    expect(judge.decide(320)).toBe("words");
    expect(judge.decide(700)).toBeUndefined(); // decided already
    judge.reset();
    expect(judge.decide(600)).toBeUndefined(); // a new utterance: no words yet
    judge.hear("כן");
    expect(judge.decide(600)).toBe("long_speech");
  });

  it("does not act on a real word heard before the minimum until the minimum is reached", () => {
    const judge = new BargeInJudge(settings, hebrew);
    judge.hear("עצור");
    expect(judge.decide(160)).toBeUndefined();
    expect(judge.decide(200)).toBe("words");
  });
});
