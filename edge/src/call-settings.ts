// What every call on this edge is held to, read from the vars: the caller's frame limits and the
// reconnect policy. Read once per isolate (again only when the vars change), so a bad value is
// logged once rather than on every call.
import { DEFAULT_FLOOD_CLOSE_AFTER_S, DEFAULT_MAX_AUDIO_BACKLOG_MS, DEFAULT_MAX_FRAMES_PER_SECOND, type FloodSettings } from "@voice/protocol/limits";
import type { Env } from "./env.js";
import { logEvent } from "./log.js";
import { reconnectPolicy, type ReconnectPolicy } from "./reconnect-policy.js";
import { positiveIntegerVar } from "./vars.js";

/** A Twilio media frame is ~350 chars and a `start` with custom parameters a few KB. */
export const DEFAULT_MAX_FRAME_CHARS = 8192;

export interface CallSettings {
  /** Longest caller frame, in chars (text) or bytes (binary); a longer one ends the call with 1009. */
  maxFrameChars: number;
  /** The flood guard: media on the caller's audio clock, other frames on a rate (protocol/src/limits.ts). */
  flood: FloodSettings;
  reconnect: ReconnectPolicy;
}

export type CallVars = Pick<Env, "MAX_FRAME_CHARS" | "MAX_FRAMES_PER_SECOND" | "MAX_AUDIO_BACKLOG_MS" | "FLOOD_CLOSE_AFTER_S" | "RECONNECT_BUDGET_MS">;

/** The settings the vars describe, and what was wrong with any var that had to fall back to its default. */
export function readCallSettings(vars: CallVars): { settings: CallSettings; problems: string[] } {
  const maxFrameChars = positiveIntegerVar("MAX_FRAME_CHARS", vars.MAX_FRAME_CHARS, DEFAULT_MAX_FRAME_CHARS);
  const maxPerSecond = positiveIntegerVar("MAX_FRAMES_PER_SECOND", vars.MAX_FRAMES_PER_SECOND, DEFAULT_MAX_FRAMES_PER_SECOND);
  const maxAudioBacklogMs = positiveIntegerVar("MAX_AUDIO_BACKLOG_MS", vars.MAX_AUDIO_BACKLOG_MS, DEFAULT_MAX_AUDIO_BACKLOG_MS);
  const floodCloseAfterS = positiveIntegerVar("FLOOD_CLOSE_AFTER_S", vars.FLOOD_CLOSE_AFTER_S, DEFAULT_FLOOD_CLOSE_AFTER_S);
  const { policy, problem } = reconnectPolicy(vars.RECONNECT_BUDGET_MS);
  const problems = [maxFrameChars.problem, maxPerSecond.problem, maxAudioBacklogMs.problem, floodCloseAfterS.problem, problem].filter((p) => p !== undefined);
  return {
    settings: {
      maxFrameChars: maxFrameChars.value,
      flood: { maxPerSecond: maxPerSecond.value, maxAudioBacklogMs: maxAudioBacklogMs.value, floodCloseAfterS: floodCloseAfterS.value },
      reconnect: policy,
    },
    problems,
  };
}

let latest: { vars: string; settings: CallSettings } | undefined;

/** The settings of a new call; a bad var is logged the first time it is read. */
export function callSettings(env: CallVars): CallSettings {
  const vars = JSON.stringify([env.MAX_FRAME_CHARS, env.MAX_FRAMES_PER_SECOND, env.MAX_AUDIO_BACKLOG_MS, env.FLOOD_CLOSE_AFTER_S, env.RECONNECT_BUDGET_MS]);
  if (latest?.vars === vars) return latest.settings;
  const { settings, problems } = readCallSettings(env);
  for (const problem of problems) logEvent("WARNING", "bad setting, using the default", { problem });
  latest = { vars, settings };
  return settings;
}
