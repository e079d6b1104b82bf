// The call's ledger: one Durable Object per CallSid (idFromName), so every isolate that serves a
// stream of the call talks to the same single-threaded object with strongly consistent storage.
// It records which stream holds the call (stream-claim.ts decides).
import { DurableObject } from "cloudflare:workers";
import { claimStream, releases, type ClaimVerdict, type StreamHold } from "./stream-claim.js";

const HOLD_KEY = "stream";

export class CallLedger extends DurableObject {
  /** Claims (or renews) the call for `holder`; refused while another holder's lease runs. */
  async claim(holder: string): Promise<ClaimVerdict> {
    const verdict = claimStream(await this.ctx.storage.get<StreamHold>(HOLD_KEY), holder, Date.now());
    if (verdict.ok) await this.ctx.storage.put(HOLD_KEY, verdict.hold);
    return verdict;
  }

  /** The stream ended: the call is free for another (e.g. the caller sent back to the agent). */
  async release(holder: string): Promise<void> {
    if (releases(await this.ctx.storage.get<StreamHold>(HOLD_KEY), holder)) await this.ctx.storage.delete(HOLD_KEY);
  }
}
