// Drives the caller's listening (listening.ts) with plain numbers in tests: audio time in ms, wall
// time = audio time + WALL.
import type { Listening, ListeningAction, ListeningContext, ListeningSettings } from "./listening.js";

export const SETTINGS: ListeningSettings = {
  language: "he-IL",
  backchannelWords: { he: ["כן", "אהה"] },
  hangoverMs: 160,
  // Held pauses and cut-off recovery have their own tests (listening-recovery.test.ts).
  holdMaxMs: 0,
  holdWords: {},
  cutoffRecoveryMs: 0,
  minUtteranceMs: 250,
  partialDebounceMs: 60,
  sttTimeoutMs: 240,
  bargeInMinMs: 200,
  backchannelMaxMs: 600,
  dtmfTimeoutMs: 1500,
  speculation: { enabled: true, stableMs: 300, stableVoicedMs: 600, maxPerUtterance: 2 },
  trace: false,
};

export const STT_OK = { health: "ok" as const, stats: { errors: 0, reopens: 0, rotations: 0 }, lastResultEndMs: undefined };
export const QUIET: ListeningContext = { agentHolds: false, answers: true, stt: STT_OK, agentAsked: () => "", retractableAnswer: () => undefined };
export const AGENT_TALKING: ListeningContext = { ...QUIET, agentHolds: true };
export const WALL = 1000;

/** Feeds `count` frames from `fromMs`; returns every action, in order. */
export function frames(listening: Listening, fromMs: number, count: number, voiced: boolean, context = QUIET): ListeningAction[] {
  const actions: ListeningAction[] = [];
  for (let i = 0; i < count; i++) {
    const audioMs = fromMs + i * 20;
    // A frame leaves the caller once its 20 ms were captured, and arrives WALL later.
    actions.push(...listening.handle({ type: "frame", voiced, audioMs, at: audioMs + 20 + WALL }, context));
  }
  return actions;
}

export const result = (listening: Listening, text: string, isFinal: boolean, atAudioMs: number, context = QUIET) =>
  listening.handle({ type: "result", text, isFinal, audioEndMs: atAudioMs, at: atAudioMs + WALL }, context);

export const types = (actions: ListeningAction[]) => actions.map((action) => action.type);
export const only = <T extends ListeningAction["type"]>(actions: ListeningAction[], type: T) =>
  actions.filter((action): action is Extract<ListeningAction, { type: T }> => action.type === type);
