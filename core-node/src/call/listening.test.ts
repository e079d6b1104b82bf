// The caller's side as a pure decision: frames, results, keys and timers in, actions out, driven
// with plain numbers (audio time in ms; wall time = audio time + 1000).
import { describe, expect, it } from "vitest";
import { Listening } from "./listening.js";
import { AGENT_TALKING, QUIET, SETTINGS, STT_OK, WALL, frames, only, result, types } from "./listening-test-kit.js";

describe("Listening", () => {
  it("an utterance with its final becomes one turn, timed on the caller's clock mapped to wall time", () => {
    const listening = new Listening(SETTINGS);
    frames(listening, 0, 10, false);
    expect(frames(listening, 200, 40, true)).toEqual([]);
    expect(listening.inUtterance).toBe(true);
    expect(listening.utteranceStartMs).toBe(200);
    result(listening, "מה שעות הפתיחה", false, 900);
    const eou = frames(listening, 1000, 10, false);
    expect(types(eou)).toEqual(["armTimer"]);
    const turn = result(listening, "מה שעות הפתיחה?", true, 1000);
    expect(types(turn)).toEqual(["cancelTimer", "turn"]);
    const [action] = only(turn, "turn");
    expect(action).toMatchObject({ voicedMs: 800, speculations: 0, input: { input: "speech", transcript: "מה שעות הפתיחה?", speechStartAudioMs: 200, speechEndAudioMs: 1000 } });
    expect(action!.input.timeline).toMatchObject({ speechStartAt: 200 + WALL, speechEndAt: 1000 + WALL, firstResultAt: 900 + WALL, transcriptAt: 1000 + WALL });
    expect(listening.inUtterance).toBe(false);
  });

  it("speculates on a stable partial only while nothing is playing and the call answers; a new transcript drops it; the turn counts them", () => {
    const listening = new Listening(SETTINGS);
    frames(listening, 0, 5, true);
    result(listening, "מה שעות", false, 100);
    // Stable for 600 ms of voice, but the agent holds the floor (and would be cut by a barge-in first: words need 200 ms).
    expect(only(frames(listening, 100, 40, true, { ...AGENT_TALKING, answers: false }), "speculate")).toEqual([]);
    const started = frames(listening, 900, 5, true);
    expect(only(started, "speculate")).toEqual([{ type: "speculate", text: "מה שעות" }]);
    expect(only(frames(listening, 1000, 40, true), "speculate")).toEqual([]); // one in flight
    expect(only(result(listening, "מה שעות הפתיחה", false, 1800), "dropSpeculation")).toEqual([{ type: "dropSpeculation", reason: "the transcript changed" }]);
    // A pause: 300 ms of the same transcript after the voice stopped.
    const paused = frames(listening, 1800, 16, false);
    expect(only(paused, "speculate")).toEqual([{ type: "speculate", text: "מה שעות הפתיחה" }]);
    const turn = result(listening, "מה שעות הפתיחה", true, 1800);
    expect(only(turn, "turn")[0]).toMatchObject({ speculations: 2 });
    // The next utterance starts afresh, with its own budget.
    frames(listening, 3000, 15, true);
    result(listening, "תודה", false, 3300);
    frames(listening, 3300, 10, false);
    expect(only(frames(listening, 3500, 10, false), "speculate")).toEqual([{ type: "speculate", text: "תודה" }]);
  });

  it("barges in once on a real word over the agent; a backchannel alone is not a turn; long backchannel speech interrupts, and the agent then goes on", () => {
    const words = new Listening(SETTINGS);
    frames(words, 0, 12, true, AGENT_TALKING);
    const interrupted = result(words, "רגע", false, 240, AGENT_TALKING);
    expect(only(interrupted, "bargeIn")).toEqual([
      { type: "bargeIn", interruption: { reason: "words", decidedAt: 240 + WALL, voicedMs: 240, speechStartAudioMs: 0, transcript: "רגע", audioMs: 240 } },
    ]);
    expect(only(frames(words, 240, 10, true, AGENT_TALKING), "bargeIn")).toEqual([]); // decided once per utterance

    const listening = new Listening(SETTINGS);
    frames(listening, 0, 20, true, AGENT_TALKING);
    result(listening, "כן", false, 400, AGENT_TALKING);
    frames(listening, 400, 10, false, AGENT_TALKING);
    expect(types(result(listening, "כן", true, 400, AGENT_TALKING))).toEqual(["cancelTimer", "backchannel"]);

    const long = new Listening(SETTINGS);
    frames(long, 0, 20, true, AGENT_TALKING);
    result(long, "אהה", false, 400, AGENT_TALKING);
    const cut = frames(long, 400, 12, true, AGENT_TALKING);
    expect(only(cut, "bargeIn")[0]?.interruption.reason).toBe("long_speech");
    frames(long, 640, 10, false);
    // The agent was cut, but by the final it was only "אהה": not a turn; the cut answer goes on.
    expect(result(long, "אהה", true, 640)).toEqual([{ type: "cancelTimer", timer: "transcript" }, { type: "resumeAnswer", why: "backchannel" }]);
    // Only once: the next utterance is judged afresh.
    frames(long, 900, 20, true);
    frames(long, 1300, 10, false);
    expect(types(result(long, "אהה", true, 1300))).toEqual(["cancelTimer", "turn"]);
  });

  it("keys: one pressed over the agent stops it; '#' or the pause ends the entry as a keypad turn", () => {
    const listening = new Listening(SETTINGS);
    frames(listening, 0, 5, false);
    const first = listening.handle({ type: "key", key: "1", at: 2000 }, AGENT_TALKING);
    expect(types(first)).toEqual(["bargeIn", "armTimer"]);
    expect(only(first, "bargeIn")[0]!.interruption).toMatchObject({ reason: "dtmf", voicedMs: 0, transcript: "" });
    const hash = listening.handle({ type: "key", key: "#", at: 2300 }, QUIET);
    expect(only(hash, "turn")[0]).toMatchObject({ input: { input: "dtmf", transcript: "[keypad] 1 #", timeline: { speechStartAt: 2000, speechEndAt: 2300, eouAt: 2300 } } });

    const [armed] = only(listening.handle({ type: "key", key: "7", at: 3000 }, QUIET), "armTimer");
    expect(listening.handle({ type: "timer", timer: "keys", id: armed!.id - 1, at: 4500 }, QUIET)).toEqual([]); // a stale timer
    expect(only(listening.handle({ type: "timer", timer: "keys", id: armed!.id, at: 4500 }, QUIET), "turn")[0]?.input.transcript).toBe("[keypad] 7");
  });

  it("waits on while a late final may come; replaces a stream that stopped answering; an unheard utterance with recognition down goes to the fallback", () => {
    const listening = new Listening(SETTINGS);
    frames(listening, 0, 60, true);
    result(listening, "שלום", false, 200);
    const [armed] = only(frames(listening, 1200, 10, false), "armTimer");
    const timer = { type: "timer" as const, timer: "transcript" as const, id: armed!.id, at: 3000 };
    expect(listening.handle({ ...timer, lateFinalPossible: true }, QUIET)).toEqual([{ type: "armTimer", timer: "transcript", id: armed!.id, ms: 240 }]);
    // The stream's last result ends 1 s before the end of speech: hung.
    const stalled = listening.handle({ ...timer, lateFinalPossible: false }, { ...QUIET, stt: { ...STT_OK, lastResultEndMs: 200 } });
    expect(types(stalled)).toEqual(["replaceStream", "armTimer"]);
    // Once per utterance: then the partial is settled for.
    const settled = listening.handle({ ...timer, lateFinalPossible: false }, { ...QUIET, stt: { ...STT_OK, lastResultEndMs: 200 } });
    expect(only(settled, "turn")[0]).toMatchObject({ input: { transcript: "שלום", usedPartial: true } });

    const down = new Listening(SETTINGS);
    const downStt = { ...STT_OK, health: "down" as const };
    frames(down, 0, 40, true, { ...QUIET, stt: downStt });
    const fallback = frames(down, 800, 10, false, { ...QUIET, stt: downStt });
    expect(only(fallback, "fallbackTurn")[0]).toMatchObject({ speculation: "none", input: { input: "speech", transcript: "", speechStartAudioMs: 0, speechEndAudioMs: 800 } });
  });
});
