// When the core's part of a record is posted to the edge again. Pure: an attempt's result (and a
// random draw for the jitter) in, the next step out. A network error or a 5xx is the edge (or the
// way to it) failing for now: retried after a backoff, DELIVERY_ATTEMPTS in all. A 4xx is the edge
// refusing this part (bad token, bad body, unknown call): the same request would be refused again.
import { jitteredDelayMs } from "@voice/protocol/backoff";

export const DELIVERY_ATTEMPTS = 3;
/** The wait before the 2nd and 3rd attempts (jitter only shortens it, to no less than half). */
export const DELIVERY_BACKOFF_MS: readonly number[] = [500, 2000];

/** What one POST came to: the edge's status, or no answer at all (the reason in one line). */
export type AttemptResult = { status: number } | { error: string };

export type DeliveryStep =
  | { type: "delivered" }
  | { type: "refused"; status: number }
  | { type: "retry"; delayMs: number }
  | { type: "gaveUp"; reason: string };

/** The step after attempt number `attempt` (1-based) came to `result`; `draw` in [0, 1) jitters a retry's wait. */
export function afterAttempt(attempt: number, result: AttemptResult, draw: number): DeliveryStep {
  if ("status" in result && result.status >= 200 && result.status < 300) return { type: "delivered" };
  // Any other answer below 500 (a 4xx, a redirect, which is not followed) would come back the same.
  if ("status" in result && result.status < 500) return { type: "refused", status: result.status };
  const reason = "status" in result ? `the edge answered ${result.status}` : result.error;
  if (attempt >= DELIVERY_ATTEMPTS) return { type: "gaveUp", reason };
  return { type: "retry", delayMs: jitteredDelayMs(DELIVERY_BACKOFF_MS[attempt - 1] ?? DELIVERY_BACKOFF_MS.at(-1)!, draw) };
}
