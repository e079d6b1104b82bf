// When a call whose core link went away tries to open a new one, and when it gives up. Pure: the
// core session asks, this answers, so the rules are testable without sockets, clocks or chance (the
// random draw that spreads retries comes in with the question).
import { jitteredDelayMs } from "@voice/protocol/backoff";
import { CLOSE_CORE_MOVING } from "@voice/protocol/core-link";
import { positiveIntegerVar } from "./vars.js";

export interface ReconnectPolicy {
  /**
   * Wait before each attempt of one outage (the first at once); the last value repeats. Each is an
   * upper bound: the wait drawn is in (half of it, all of it] (jitteredDelayMs), so the calls of a
   * core that went away do not all knock on the next one at the same instants.
   */
  delaysMs: readonly number[];
  /** Time from the loss within which the link must be back; past it the call ends. */
  budgetMs: number;
  /** Re-opens allowed per call: a call that keeps losing its core is ended, not retried forever. */
  maxReopens: number;
  /** Longest an attempt (the first open too) may wait for the core to accept the socket; a cold core may take seconds. */
  connectTimeoutMs: number;
}

export const DEFAULT_RECONNECT_BUDGET_MS = 30_000;

export const DEFAULT_RECONNECT_POLICY: ReconnectPolicy = {
  delaysMs: [0, 250, 500, 1000, 2000, 4000],
  budgetMs: DEFAULT_RECONNECT_BUDGET_MS,
  maxReopens: 5,
  connectTimeoutMs: 10_000,
};

/** The policy with the budget from RECONNECT_BUDGET_MS; an unusable value keeps the default and says why. */
export function reconnectPolicy(budgetVar: string | undefined): { policy: ReconnectPolicy; problem?: string } {
  const budget = positiveIntegerVar("RECONNECT_BUDGET_MS", budgetVar, DEFAULT_RECONNECT_BUDGET_MS);
  return { policy: { ...DEFAULT_RECONNECT_POLICY, budgetMs: budget.value }, problem: budget.problem };
}

export interface Attempt {
  /** Wait before trying. */
  delayMs: number;
  /** How long this try may wait for the core: never past the outage's budget. */
  timeoutMs: number;
}

/**
 * Attempt `index` (0-based) of an outage that began `elapsedMs` ago, or null when the budget has no
 * room for it. `draw`, in [0, 1), spreads the wait (0: the schedule's full step).
 */
export function nextAttempt(policy: ReconnectPolicy, index: number, elapsedMs: number, draw: number): Attempt | null {
  const delays = policy.delaysMs;
  const delayMs = jitteredDelayMs(delays[Math.min(index, delays.length - 1)] ?? 0, draw);
  const left = policy.budgetMs - elapsedMs - delayMs;
  if (left <= 0) return null;
  return { delayMs, timeoutMs: Math.min(policy.connectTimeoutMs, left) };
}

export function mayReopen(policy: ReconnectPolicy, reopensSoFar: number): boolean {
  return reopensSoFar < policy.maxReopens;
}

/**
 * What a close of the core link means for the call: `ended` (1000: the core ended the call),
 * `refused` (1008: the core will not serve it), `moved` (1012: the core is draining and the call
 * should move; normally announced by core.move first), `lost` (anything else: crash, restart,
 * network): the last two keep the call and reconnect.
 */
export type CoreLinkClose = "ended" | "refused" | "moved" | "lost";

export function classifyCoreClose(code: number): CoreLinkClose {
  if (code === 1000) return "ended";
  if (code === 1008) return "refused";
  if (code === CLOSE_CORE_MOVING) return "moved";
  return "lost";
}
