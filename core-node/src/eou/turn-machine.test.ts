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
  holdMaxMs: 0,
};

/** Frames arrive 5 ms after their audio starts, at real-time pace. */
const ARRIVAL_DELAY = 5;

/** Feeds frames described as '#' (voiced) and '.' (silent) from `fromMs` on; returns all actions. */
function frames(machine: TurnMachine, pattern: string, fromMs: number): TurnAction[] {
  const actions: TurnAction[] = [];
  [...pattern].forEach((c, i) => {
    const audioMs = fromMs + i * 20;
    actions.push(...machine.handle({ type: "frame", voiced: c === "#", audioMs, at: audioMs + ARRIVAL_DELAY }));
  });
  return actions;
}

const types = (actions: TurnAction[]) => actions.map((a) => a.type);
const voiced = (ms: number) => "#".repeat(ms / 20);
const silent = (ms: number) => ".".repeat(ms / 20);

describe("TurnMachine", () => {
  it("starts speech after a few voiced frames, at the first of them", () => {
    const m = new TurnMachine(settings);
    const actions = frames(m, "..###", 0);
    expect(actions).toEqual([{ type: "speechStart", startMs: 40 }]);
  });

  it("ignores clicks shorter than the start run", () => {
    const m = new TurnMachine(settings);
    expect(frames(m, "##.#.##....", 0)).toEqual([]);
    expect(m.inUtterance).toBe(false);
  });

  it("ends the utterance after the hangover of silence and waits for a final", () => {
    const m = new TurnMachine(settings);
    const actions = frames(m, voiced(600) + silent(160), 0);
    expect(types(actions)).toEqual(["speechStart", "endOfUtterance", "awaitTranscript"]);
    const eou = actions.find((a) => a.type === "endOfUtterance")!;
    // Speech ends with the last voiced frame (600 ms); EOU is decided when the 8th silent frame arrives.
    expect(eou).toMatchObject({ utterance: { startMs: 0, endMs: 600, voicedMs: 600 }, at: 745 });
    expect(actions.at(-1)).toEqual({ type: "awaitTranscript", id: expect.any(Number), timeoutMs: 240 });
  });

  it("does not end the utterance on a pause shorter than the hangover", () => {
    const m = new TurnMachine(settings);
    const actions = frames(m, voiced(300) + silent(140) + voiced(300) + silent(100), 0);
    expect(types(actions)).toEqual(["speechStart"]);
    expect(m.voicedMs).toBe(600);
  });

  it("discards speech shorter than MIN_UTT_SEC", () => {
    const m = new TurnMachine(settings);
    const actions = frames(m, voiced(200) + silent(200), 0);
    expect(types(actions)).toEqual(["speechStart", "utteranceDiscarded"]);
    expect(actions.at(-1)).toEqual({ type: "utteranceDiscarded", durationMs: 200 });
    expect(m.inUtterance).toBe(false);
  });

  it("commits with the final when it arrives within the timeout", () => {
    const m = new TurnMachine(settings);
    frames(m, voiced(600), 0);
    expect(m.handle({ type: "partial", text: "hello", audioEndMs: 400, at: 500 })).toEqual([
      { type: "partial", text: "hello", at: 500 },
    ]);
    frames(m, silent(160), 600);
    const actions = m.handle({ type: "final", text: "hello there", audioEndMs: 700, at: 820 });
    expect(actions).toEqual([
      {
        type: "turn",
        transcript: "hello there",
        usedPartial: false,
        utterance: { startMs: 0, endMs: 600, voicedMs: 600, firstResultAt: 500, pausesHeld: 0 },
        eouAt: 745,
        transcriptAt: 820,
      },
    ]);
    expect(m.inUtterance).toBe(false);
  });

  it("commits at once at EOU when a final covering the speech came first", () => {
    const m = new TurnMachine(settings);
    frames(m, voiced(600), 0);
    m.handle({ type: "final", text: "done", audioEndMs: 600, at: 590 });
    const actions = frames(m, silent(160), 600);
    expect(types(actions)).toEqual(["endOfUtterance", "turn"]);
    expect(actions[1]).toMatchObject({ transcript: "done", usedPartial: false, transcriptAt: 590 });
  });

  it("waits when the only final ends before the speech resumed after a pause", () => {
    const m = new TurnMachine(settings);
    frames(m, voiced(400) + silent(100) + voiced(300), 0);
    m.handle({ type: "final", text: "first part", audioEndMs: 450, at: 700 });
    const actions = frames(m, silent(160), 800);
    expect(types(actions)).toEqual(["endOfUtterance", "awaitTranscript"]);
    expect(types(m.handle({ type: "final", text: "second part", audioEndMs: 850, at: 1000 }))).toEqual(["turn"]);
  });

  it("uses the latest partial when no final comes before the timeout", () => {
    const m = new TurnMachine(settings);
    frames(m, voiced(600), 0);
    m.handle({ type: "partial", text: "book an", at: 400 });
    m.handle({ type: "partial", text: "book an appointment", at: 430 }); // coalesced, but kept
    const eou = frames(m, silent(160), 600);
    const wait = eou.find((a) => a.type === "awaitTranscript")!;
    if (wait.type !== "awaitTranscript") throw new Error("no wait");
    expect(m.handle({ type: "sttTimeout", id: wait.id, at: 985 })).toEqual([
      expect.objectContaining({ type: "turn", transcript: "book an appointment", usedPartial: true, transcriptAt: 985 }),
    ]);
  });

  it("coalesces partials closer than the debounce window", () => {
    const m = new TurnMachine(settings);
    frames(m, voiced(600), 0);
    const emitted = [300, 330, 350, 370, 420].flatMap((at, i) =>
      m.handle({ type: "partial", text: `w${i}`, at }),
    );
    expect(emitted).toEqual([
      { type: "partial", text: "w0", at: 300 },
      { type: "partial", text: "w3", at: 370 },
    ]);
  });

  it("reports no transcript when STT said nothing", () => {
    const m = new TurnMachine(settings);
    const actions = frames(m, voiced(600) + silent(160), 0);
    const wait = actions.at(-1)!;
    if (wait.type !== "awaitTranscript") throw new Error("no wait");
    expect(types(m.handle({ type: "sttTimeout", id: wait.id, at: 1000 }))).toEqual(["noTranscript"]);
    expect(m.inUtterance).toBe(false);
  });

  it("gives up waiting when recognition is down, dropping a partial (the utterance is transcribed whole elsewhere)", () => {
    const m = new TurnMachine(settings);
    frames(m, voiced(600), 0);
    m.handle({ type: "partial", text: "book an", at: 400 });
    expect(m.heardResult).toBe(true);
    expect(m.utteranceEndMs).toBe(600);
    expect(m.handle({ type: "sttDown" })).toEqual([]); // still speaking: decided at its end
    const eou = frames(m, silent(160), 600);
    expect(types(eou)).toEqual(["endOfUtterance", "awaitTranscript"]);
    expect(m.handle({ type: "sttDown" })).toEqual([
      { type: "noTranscript", utterance: expect.objectContaining({ startMs: 0, endMs: 600 }), eouAt: 745 },
    ]);
    expect(m.inUtterance).toBe(false);
  });

  it("treats speech resuming during the wait as the same utterance and voids the timer", () => {
    const m = new TurnMachine(settings);
    const first = frames(m, voiced(600) + silent(160), 0);
    const wait = first.at(-1)!;
    if (wait.type !== "awaitTranscript") throw new Error("no wait");
    expect(frames(m, voiced(400), 760)).toEqual([]);
    expect(m.handle({ type: "sttTimeout", id: wait.id, at: 1100 })).toEqual([]);
    const second = frames(m, silent(160), 1160);
    expect(second[0]).toMatchObject({
      type: "endOfUtterance",
      utterance: { startMs: 0, endMs: 1160, voicedMs: 1000 },
    });
  });

  it("ignores a late final of the previous turn and results from before the speech", () => {
    const m = new TurnMachine(settings);
    const actions = frames(m, voiced(600) + silent(160), 0);
    const wait = actions.at(-1)!;
    if (wait.type !== "awaitTranscript") throw new Error("no wait");
    m.handle({ type: "partial", text: "first", audioEndMs: 600, at: 700 });
    expect(types(m.handle({ type: "sttTimeout", id: wait.id, at: 1000 }))).toEqual(["turn"]);
    // Late final for the first utterance, before any new speech: dropped.
    expect(m.handle({ type: "final", text: "first!", audioEndMs: 760, at: 1100 })).toEqual([]);
    frames(m, voiced(600), 2000);
    // Arrives during the new speech but ends before it: still the old one.
    expect(m.handle({ type: "final", text: "first!", audioEndMs: 800, at: 2300 })).toEqual([]);
    m.handle({ type: "final", text: "second", audioEndMs: 2600, at: 2650 });
    const next = frames(m, silent(160), 2600);
    expect(next[1]).toMatchObject({ type: "turn", transcript: "second" });
  });

  it("exposes the utterance's voiced audio and its latest transcript, undebounced, for the barge-in decision", () => {
    const m = new TurnMachine(settings);
    expect(m.transcriptSoFar).toBe("");
    frames(m, voiced(180) + silent(60) + voiced(40), 0);
    expect(m.voicedMs).toBe(220);
    expect(m.utteranceStartMs).toBe(0);
    m.handle({ type: "partial", text: "wait", at: 300 });
    m.handle({ type: "partial", text: "wait a", at: 310 }); // within the debounce window: not emitted, still known
    expect(m.transcriptSoFar).toBe("wait a");
    frames(m, silent(160), 280);
    m.handle({ type: "final", text: "wait a second", audioEndMs: 280, at: 500 });
    expect(m.transcriptSoFar).toBe("");
    expect(m.voicedMs).toBe(0);
  });

  it("measures silence on the audio clock, so a lost frame does not stretch the hangover", () => {
    const m = new TurnMachine(settings);
    frames(m, voiced(600), 0);
    // Frames from 600..760 were lost; the next silent frame alone completes the hangover.
    const actions = m.handle({ type: "frame", voiced: false, audioMs: 760, at: 770 });
    expect(types(actions)).toEqual(["endOfUtterance", "awaitTranscript"]);
  });
});

const english = UnfinishedWords.forLanguage("en-US", DEFAULT_HOLD_WORDS);
const holding = (overrides: Partial<TurnMachineSettings> = {}) => new TurnMachine({ ...settings, holdMaxMs: 1200, ...overrides }, (text) => english.reason(text, ""));

/** Frames of one kind for `ms` from `fromMs`, arriving 5 ms after their audio starts. */
function run(m: TurnMachine, voiced: boolean, fromMs: number, ms: number): TurnAction[] {
  const actions: TurnAction[] = [];
  for (let audioMs = fromMs; audioMs < fromMs + ms; audioMs += 20) actions.push(...m.handle({ type: "frame", voiced, audioMs, at: audioMs + 5 }));
  return actions;
}
const turnsOf = (actions: TurnAction[]) => actions.filter((a): a is Extract<TurnAction, { type: "turn" }> => a.type === "turn");


// The end of utterance held while the words cannot end one (eou/unfinished.ts).
describe("TurnMachine hold", () => {
  it("waits through an 800 ms pause after 'at' and makes one turn of the whole sentence", () => {
    const m = holding();
    run(m, true, 0, 600);
    m.handle({ type: "partial", text: "Tuesday at", audioEndMs: 600, at: 560 });
    expect(run(m, false, 600, 400)).toEqual([]);
    // The recognizer finalises the first part inside the pause; still not a turn.
    expect(m.handle({ type: "final", text: "Tuesday at", audioEndMs: 600, at: 1000 })).toEqual([]);
    expect(run(m, false, 1000, 400)).toEqual([]);
    expect(m.held).toBe(true);
    run(m, true, 1400, 800);
    expect(m.held).toBe(false);
    m.handle({ type: "final", text: "nine thirty", audioEndMs: 2200, at: 2190 });
    const [turn] = turnsOf(run(m, false, 2200, 200));
    expect(turn).toMatchObject({ transcript: "Tuesday at nine thirty", eouAt: 2340 + 5, utterance: { startMs: 0, endMs: 2200, pausesHeld: 1 } });
    expect(turn!.utterance.hold).toBeUndefined();
  });

  it("ends at EOU_HOLD_MAX_MS of silence when the words stay unfinished, and says how long it held", () => {
    const m = holding();
    run(m, true, 0, 600);
    m.handle({ type: "final", text: "I'd like to book for", audioEndMs: 600, at: 590 });
    const pause = run(m, false, 600, 1400);
    const eou = pause.find((a) => a.type === "endOfUtterance");
    // The last frame before 1200 ms of silence ends at 1800: its arrival is the decision.
    expect(eou).toMatchObject({ at: 1780 + 5 });
    const [turn] = turnsOf(pause);
    expect(turn).toMatchObject({ transcript: "I'd like to book for", utterance: { endMs: 600, hold: { reason: "function_word", ms: 1200 - 160 } } });
  });

  it("ends at the hangover when the words are finished, and stops holding as soon as a final finishes them", () => {
    const finished = holding();
    run(finished, true, 0, 600);
    finished.handle({ type: "final", text: "Tuesday at nine", audioEndMs: 600, at: 590 });
    const [turn] = turnsOf(run(finished, false, 600, 200));
    expect(turn).toMatchObject({ eouAt: 740 + 5, utterance: { pausesHeld: 0 } });
    expect(turn!.utterance.hold).toBeUndefined();

    const revised = holding();
    run(revised, true, 0, 600);
    revised.handle({ type: "partial", text: "Tuesday at", audioEndMs: 600, at: 590 });
    expect(run(revised, false, 600, 400)).toEqual([]);
    revised.handle({ type: "final", text: "Tuesday at nine", audioEndMs: 600, at: 1000 });
    const [late] = turnsOf(run(revised, false, 1000, 40));
    expect(late).toMatchObject({ transcript: "Tuesday at nine", eouAt: 1000 + 5, utterance: { hold: { reason: "function_word", ms: 420 - 160 } } });
  });

  it("holds after all when the recognizer shows the unfinished words only after the end of utterance", () => {
    const m = holding();
    run(m, true, 0, 600);
    m.handle({ type: "partial", text: "Tuesday", audioEndMs: 400, at: 390 });
    expect(run(m, false, 600, 200).map((a) => a.type)).toEqual(["endOfUtterance", "awaitTranscript"]);
    // "at" arrives 200 ms into the pause: the wait for the final is void, the pause is held.
    expect(m.handle({ type: "partial", text: "Tuesday at", audioEndMs: 600, at: 810 })).toEqual([{ type: "endOfUtteranceWithdrawn" }]);
    expect(m.handle({ type: "final", text: "Tuesday at", audioEndMs: 600, at: 900 })).toEqual([]);
    expect(run(m, false, 800, 400)).toEqual([]);
    run(m, true, 1200, 400);
    m.handle({ type: "final", text: "nine", audioEndMs: 1600, at: 1590 });
    const [turn] = turnsOf(run(m, false, 1600, 200));
    expect(turn).toMatchObject({ transcript: "Tuesday at nine", utterance: { pausesHeld: 1 } });
  });

  it("counts the pauses it bridged, and never holds with EOU_HOLD_MAX_MS at or under the hangover", () => {
    const m = holding();
    run(m, true, 0, 400);
    m.handle({ type: "partial", text: "press one for", audioEndMs: 400, at: 390 });
    run(m, false, 400, 500);
    run(m, true, 900, 400);
    m.handle({ type: "final", text: "press one for extension", audioEndMs: 1300, at: 1290 });
    const [turn] = turnsOf(run(m, false, 1300, 200));
    expect(turn).toMatchObject({ transcript: "press one for extension", utterance: { pausesHeld: 1 } });

    const off = holding({ holdMaxMs: 0 });
    run(off, true, 0, 400);
    off.handle({ type: "final", text: "press one for", audioEndMs: 400, at: 390 });
    expect(turnsOf(run(off, false, 400, 200))).toHaveLength(1);
  });
});
