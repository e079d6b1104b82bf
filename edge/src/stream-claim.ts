// One live stream per call. Twilio opens one media stream per <Connect><Stream>; a second socket
// naming the same CallSid while the first is alive is someone replaying the call's start. Which
// stream holds a call is decided here (pure: the record and the time in, the verdict out) and
// stored by the call's ledger (call-ledger.ts), which every isolate reaches consistently.
//
// The hold is a lease the relay renews while its socket lives: if an isolate dies without
// releasing it, the call is free again once the lease runs out rather than locked for good.

/** How long a claim holds without renewal. */
export const STREAM_LEASE_MS = 60_000;
/** How often a live relay renews its claim (well inside the lease, so one missed renewal is harmless). */
export const STREAM_RENEW_MS = 20_000;

export interface StreamHold {
  /** The relay holding the call: its stream and a nonce of its own socket (a replayed `start`, same StreamSid and all, is another socket). */
  holder: string;
  /** Wall time (ms) the lease runs out. */
  until: number;
}

export type ClaimVerdict = { ok: true; hold: StreamHold } | { ok: false; holder: string };

/** `holder` asks to hold the call at `nowMs` (a first claim or a renewal). */
export function claimStream(current: StreamHold | undefined, holder: string, nowMs: number, leaseMs = STREAM_LEASE_MS): ClaimVerdict {
  if (current && current.holder !== holder && current.until > nowMs) return { ok: false, holder: current.holder };
  return { ok: true, hold: { holder, until: nowMs + leaseMs } };
}

/** Whether `holder` may let the call go: only its own hold is released. */
export function releases(current: StreamHold | undefined, holder: string): boolean {
  return current?.holder === holder;
}
