// The end of utterance held while the words cannot end one: frames in 20 ms steps on the audio
// clock, wall time = audio time + 5 ms.
import { describe, expect, it } from "vitest";
import { TurnMachine, type TurnAction, type TurnMachineSettings } from "./turn-machine.js";
import { DEFAULT_HOLD_WORDS, UnfinishedWords } from "./unfinished.js";

const settings: TurnMachineSettings = {
  frameMs: 20,
  speechStartFrames: 3,
  hangoverMs: 160,
  minUtteranceMs: 250,
  partialDebounceMs: 60,
  sttTimeoutMs: 240,
  holdMaxMs: 1200,
};
const english = UnfinishedWords.forLanguage("en-US", DEFAULT_HOLD_WORDS);
const machine = (overrides: Partial<TurnMachineSettings> = {}) => new TurnMachine({ ...settings, ...overrides }, (text) => english.reason(text, ""));

function frames(m: TurnMachine, voiced: boolean, fromMs: number, ms: number): TurnAction[] {
  const actions: TurnAction[] = [];
  for (let audioMs = fromMs; audioMs < fromMs + ms; audioMs += 20) actions.push(...m.handle({ type: "frame", voiced, audioMs, at: audioMs + 5 }));
  return actions;
}
const turns = (actions: TurnAction[]) => actions.filter((a): a is Extract<TurnAction, { type: "turn" }> => a.type === "turn");

describe("TurnMachine hold", () => {
  it("waits through an 800 ms pause after 'at' and makes one turn of the whole sentence", () => {
    const m = machine();
    frames(m, true, 0, 600);
    m.handle({ type: "partial", text: "Tuesday at", audioEndMs: 600, at: 560 });
    expect(frames(m, false, 600, 400)).toEqual([]);
    // The recognizer finalises the first part inside the pause; still not a turn.
    expect(m.handle({ type: "final", text: "Tuesday at", audioEndMs: 600, at: 1000 })).toEqual([]);
    expect(frames(m, false, 1000, 400)).toEqual([]);
    expect(m.held).toBe(true);
    frames(m, true, 1400, 800);
    expect(m.held).toBe(false);
    m.handle({ type: "final", text: "nine thirty", audioEndMs: 2200, at: 2190 });
    const [turn] = turns(frames(m, false, 2200, 200));
    expect(turn).toMatchObject({ transcript: "Tuesday at nine thirty", eouAt: 2340 + 5, utterance: { startMs: 0, endMs: 2200, pausesHeld: 1 } });
    expect(turn!.utterance.hold).toBeUndefined();
  });

  it("ends at EOU_HOLD_MAX_MS of silence when the words stay unfinished, and says how long it held", () => {
    const m = machine();
    frames(m, true, 0, 600);
    m.handle({ type: "final", text: "I'd like to book for", audioEndMs: 600, at: 590 });
    const pause = frames(m, false, 600, 1400);
    const eou = pause.find((a) => a.type === "endOfUtterance");
    // The last frame before 1200 ms of silence ends at 1800: its arrival is the decision.
    expect(eou).toMatchObject({ at: 1780 + 5 });
    const [turn] = turns(pause);
    expect(turn).toMatchObject({ transcript: "I'd like to book for", utterance: { endMs: 600, hold: { reason: "function_word", ms: 1200 - 160 } } });
  });

  it("ends at the hangover when the words are finished, and stops holding as soon as a final finishes them", () => {
    const finished = machine();
    frames(finished, true, 0, 600);
    finished.handle({ type: "final", text: "Tuesday at nine", audioEndMs: 600, at: 590 });
    const [turn] = turns(frames(finished, false, 600, 200));
    expect(turn).toMatchObject({ eouAt: 740 + 5, utterance: { pausesHeld: 0 } });
    expect(turn!.utterance.hold).toBeUndefined();

    const revised = machine();
    frames(revised, true, 0, 600);
    revised.handle({ type: "partial", text: "Tuesday at", audioEndMs: 600, at: 590 });
    expect(frames(revised, false, 600, 400)).toEqual([]);
    revised.handle({ type: "final", text: "Tuesday at nine", audioEndMs: 600, at: 1000 });
    const [late] = turns(frames(revised, false, 1000, 40));
    expect(late).toMatchObject({ transcript: "Tuesday at nine", eouAt: 1000 + 5, utterance: { hold: { reason: "function_word", ms: 420 - 160 } } });
  });

  it("counts the pauses it bridged, and never holds with EOU_HOLD_MAX_MS at or under the hangover", () => {
    const m = machine();
    frames(m, true, 0, 400);
    m.handle({ type: "partial", text: "press one for", audioEndMs: 400, at: 390 });
    frames(m, false, 400, 500);
    frames(m, true, 900, 400);
    m.handle({ type: "final", text: "press one for extension", audioEndMs: 1300, at: 1290 });
    const [turn] = turns(frames(m, false, 1300, 200));
    expect(turn).toMatchObject({ transcript: "press one for extension", utterance: { pausesHeld: 1 } });

    const off = machine({ holdMaxMs: 0 });
    frames(off, true, 0, 400);
    off.handle({ type: "final", text: "press one for", audioEndMs: 400, at: 390 });
    expect(turns(frames(off, false, 400, 200))).toHaveLength(1);
  });
});
