// Jittered backoff, shared by the edge's reconnects (edge/src/reconnect-policy.ts) and the core's
// recognition-stream retries (core-node/src/stt/replay.ts). Pure: the random draw comes in.

/**
 * The wait before a retry whose schedule says `baseMs`, given `draw` in [0, 1).
 *
 * "Equal jitter": half the delay is kept, the other half is random, and the jitter only ever
 * shortens: the result lies in (baseMs/2, baseMs]. So calls that failed together (one core's calls
 * when it crashed, one instance's recognition streams when the service hiccuped) retry spread over
 * half the step instead of in lockstep; a first retry stays at least as fast as the documented
 * schedule; and a schedule's figures (budgets, "after 200 + 400 + ... ms") remain upper bounds.
 * Not "full jitter" ([0, baseMs)): that can retry at once, hammering a service that has just
 * failed, and a step's lower bound would be lost. A draw of 0 gives the schedule exactly.
 */
export function jitteredDelayMs(baseMs: number, draw: number): number {
  if (!(baseMs > 0)) return 0;
  const unit = Number.isFinite(draw) ? Math.min(Math.max(draw, 0), 1 - Number.EPSILON) : 0;
  return baseMs - Math.floor((unit * baseMs) / 2);
}
