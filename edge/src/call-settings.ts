// What every call on this edge is held to, read from the vars: the caller's frame limits, the
// reconnect policy, and where a call goes when it leaves the agent (transfer, fallback). Read once per isolate (again only when the vars change), so a bad value is
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

/** How long the staff number rings before the caller comes back to the agent (Twilio's <Dial timeout>). */
export const DEFAULT_TRANSFER_TIMEOUT_S = 20;
/** Twilio's bounds on a <Dial timeout>. */
const TRANSFER_TIMEOUT_RANGE_S = { min: 5, max: 600 } as const;
export const DEFAULT_FALLBACK_TEXT = "מצטערים, יש לנו תקלה. אני מעבירה אתכם לצוות המרפאה.";
/** A phone number as Twilio dials it: E.164. */
const E164 = /^\+[1-9]\d{6,14}$/;

export interface ControlSettings {
  /** Where a transfer rings; null: transfers go straight back to the agent ("failed"). */
  staffNumber: string | null;
  transferTimeoutS: number;
  /** Where the human fallback rings; null: the apology, then a hang-up. */
  fallbackNumber: string | null;
  /** Said to the caller when the AI path failed. */
  fallbackText: string;
}

export type ControlVars = Pick<Env, "STAFF_NUMBER" | "TRANSFER_TIMEOUT_S" | "FALLBACK_NUMBER" | "FALLBACK_TEXT">;

function phoneNumberVar(name: string, raw: string | undefined): { value: string | null; problem?: string } {
  const value = raw?.trim() ?? "";
  if (value === "") return { value: null };
  if (!E164.test(value)) return { value: null, problem: `${name}=${JSON.stringify(value.slice(0, 40))} is not an E.164 number (+ and 7-15 digits)` };
  return { value };
}

/** Where calls go when they leave the agent, and what was wrong with any var that had to be left out. */
export function readControlSettings(vars: ControlVars): { settings: ControlSettings; problems: string[] } {
  const staff = phoneNumberVar("STAFF_NUMBER", vars.STAFF_NUMBER);
  const fallback = phoneNumberVar("FALLBACK_NUMBER", vars.FALLBACK_NUMBER);
  const timeout = positiveIntegerVar("TRANSFER_TIMEOUT_S", vars.TRANSFER_TIMEOUT_S, DEFAULT_TRANSFER_TIMEOUT_S);
  const { min, max } = TRANSFER_TIMEOUT_RANGE_S;
  const outOfRange = timeout.value < min || timeout.value > max;
  const timeoutProblem = timeout.problem ?? (outOfRange ? `TRANSFER_TIMEOUT_S=${timeout.value} is outside Twilio's ${min}-${max} s` : undefined);
  const fallbackText = vars.FALLBACK_TEXT?.trim() || DEFAULT_FALLBACK_TEXT;
  return {
    settings: {
      staffNumber: staff.value,
      transferTimeoutS: outOfRange ? DEFAULT_TRANSFER_TIMEOUT_S : timeout.value,
      fallbackNumber: fallback.value,
      fallbackText,
    },
    problems: [staff.problem, fallback.problem, timeoutProblem].filter((p) => p !== undefined),
  };
}

let latestControl: { vars: string; settings: ControlSettings } | undefined;

/** The call-control settings; a bad var is logged the first time it is read. */
export function controlSettings(env: ControlVars): ControlSettings {
  const vars = JSON.stringify([env.STAFF_NUMBER, env.TRANSFER_TIMEOUT_S, env.FALLBACK_NUMBER, env.FALLBACK_TEXT]);
  if (latestControl?.vars === vars) return latestControl.settings;
  const { settings, problems } = readControlSettings(env);
  for (const problem of problems) logEvent("WARNING", "bad setting, left out", { problem });
  latestControl = { vars, settings };
  return settings;
}
