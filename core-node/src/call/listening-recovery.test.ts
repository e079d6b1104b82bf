// A turn taken in a pause of an unfinished sentence, taken back when the caller speaks on; and the
// speculation waiting while the words are unfinished. Plain numbers: audio time in ms.
import { describe, expect, it } from "vitest";
import { DEFAULT_HOLD_WORDS } from "../eou/unfinished.js";
import { Listening } from "./listening.js";
import { QUIET, SETTINGS, WALL, frames, only, result, types } from "./listening-test-kit.js";
import type { ListeningContext } from "./listening-contract.js";

const RECOVERING = { ...SETTINGS, language: "en-US", cutoffRecoveryMs: 1500 };
/** The agent answers the turn and the caller has heard none of it. */
const ANSWER_UNHEARD: ListeningContext = { ...QUIET, agentHolds: true, retractableAnswer: () => "silent" };

/** "Tuesday at" and a 600 ms pause, taken as a turn (no hold): the listening, and the turn's actions. */
function cutOff(listening: Listening) {
  frames(listening, 0, 5, false);
  frames(listening, 100, 30, true);
  result(listening, "Tuesday at", false, 700);
  frames(listening, 700, 10, false);
  return result(listening, "Tuesday at", true, 700);
}

describe("Listening: a turn taken too early", () => {
  it("is taken back when the caller speaks on before hearing its answer, and the two utterances are one turn", () => {
    const listening = new Listening(RECOVERING);
    expect(only(cutOff(listening), "turn")[0]!.input.transcript).toBe("Tuesday at");
    expect(frames(listening, 900, 10, false, ANSWER_UNHEARD)).toEqual([]);
    const resumed = frames(listening, 1100, 3, true, ANSWER_UNHEARD);
    expect(resumed).toEqual([
      { type: "retractTurn", interruption: { reason: "resumed", decidedAt: 1100 + WALL, voicedMs: 60, speechStartAudioMs: 1100, transcript: "Tuesday at", audioMs: 1160 } },
    ]);
    frames(listening, 1160, 30, true);
    expect(listening.speakingWords).toBe(true);
    result(listening, "nine thirty", true, 1760);
    const [turn] = only(frames(listening, 1760, 10, false), "turn");
    expect(turn!.input).toMatchObject({ transcript: "Tuesday at nine thirty", recoveredCutoff: true, speechStartAudioMs: 100, speechEndAudioMs: 1760 });
    expect(turn!.input.timeline).toMatchObject({ speechStartAt: 100 + WALL, firstResultAt: 700 + WALL });
  });

  it("once its answer plays, is taken back by a word, not by a backchannel (which is the caller listening)", () => {
    const audible: ListeningContext = { ...ANSWER_UNHEARD, retractableAnswer: () => "audible" };
    const word = new Listening(RECOVERING);
    cutOff(word);
    expect(frames(word, 900, 15, true, audible)).toEqual([]);
    const [retract] = only(result(word, "nine", false, 1200, audible), "retractTurn");
    expect(retract!.interruption).toMatchObject({ reason: "resumed", transcript: "Tuesday at", speechStartAudioMs: 900 });

    const yes = new Listening({ ...RECOVERING, backchannelWords: { en: ["yes"] } });
    cutOff(yes);
    frames(yes, 900, 15, true, audible);
    expect(result(yes, "yes", false, 1200, audible)).toEqual([]);
    frames(yes, 1200, 10, false, audible);
    expect(types(result(yes, "yes", true, 1200, audible))).toEqual(["cancelTimer", "backchannel"]);
    // Nothing can continue the turn now: it stands.
    expect(types(frames(yes, 1400, 1, false, audible))).toEqual(["turnStands"]);
  });

  it("is not taken back once the caller heard some of the answer, nor after the window, nor with recovery off", () => {
    const heard = new Listening(RECOVERING);
    cutOff(heard);
    expect(types(frames(heard, 900, 13, true, { ...ANSWER_UNHEARD, retractableAnswer: () => undefined }))).not.toContain("retractTurn");

    const late = new Listening(RECOVERING);
    cutOff(late);
    // The turn stands once the window passed: 1500 ms of the caller's audio after its speech end at 700.
    const waiting = frames(late, 900, 80, false, ANSWER_UNHEARD);
    expect(types(waiting)).toEqual(["turnStands"]);
    // Speech at 2500: 1800 ms after the turn's speech end.
    expect(types(frames(late, 2500, 5, true, ANSWER_UNHEARD))).not.toContain("retractTurn");

    const off = new Listening({ ...RECOVERING, cutoffRecoveryMs: 0 });
    cutOff(off);
    expect(types(frames(off, 900, 5, true, ANSWER_UNHEARD))).not.toContain("retractTurn");
  });

  it("answers the taken-back turn as it was when what followed was a noise (too short) or had no words", () => {
    const noise = new Listening(RECOVERING);
    cutOff(noise);
    expect(types(frames(noise, 900, 5, true, ANSWER_UNHEARD))).toEqual(["retractTurn"]);
    const [again] = only(frames(noise, 1000, 15, false), "turn");
    expect(again!.input).toMatchObject({ transcript: "Tuesday at", recoveredCutoff: true });

    const wordless = new Listening(RECOVERING);
    cutOff(wordless);
    frames(wordless, 900, 20, true, ANSWER_UNHEARD);
    const eou = frames(wordless, 1300, 10, false);
    expect(types(eou)).toEqual(["armTimer"]);
    const timer = only(eou, "armTimer")[0]!;
    const [answered] = only(wordless.handle({ type: "timer", timer: "transcript", id: timer.id, at: 1800 + WALL, lateFinalPossible: false }, QUIET), "turn");
    expect(answered!.input).toMatchObject({ transcript: "Tuesday at", recoveredCutoff: true });
  });
});

describe("Listening: speculation on unfinished words", () => {
  it("waits while the words so far cannot end the utterance, and starts once they can", () => {
    const listening = new Listening({ ...SETTINGS, language: "en-US", holdMaxMs: 1200, holdWords: DEFAULT_HOLD_WORDS });
    frames(listening, 0, 30, true);
    result(listening, "Tuesday at", false, 600);
    // 1000 ms of pause: past the hangover and past SPECULATE_STABLE_MS, yet neither a turn nor a speculation.
    expect(frames(listening, 600, 50, false)).toEqual([]);
    frames(listening, 1600, 20, true);
    result(listening, "Tuesday at nine", false, 2000);
    expect(only(frames(listening, 2000, 20, false), "speculate")).toEqual([{ type: "speculate", text: "Tuesday at nine" }]);
  });
});
