// What the local stack's cores logged, call by call: every TURN line and whether the call's CALL line
// (its end) has been written, across core restarts (a moved call's turns come from both cores).
// The caller-script registry serves it to the simulator, whose report takes each turn's tools from it.
import { callLine, turnLine, type TurnLine } from "@voice/protocol";
import type { CoreTurns } from "../caller-scripts/registration.js";
import type { CoreLogLine } from "./core-process.js";

interface CallEntry {
  turns: TurnLine[];
  ended: boolean;
  waiters: (() => void)[];
}

/** Calls remembered; past it the oldest go (a long `npm start` session must not grow without end). */
const MAX_CALLS = 1000;

export class CoreCallLog {
  readonly #calls = new Map<string, CallEntry>();

  /** Feeds one line a core wrote; lines other than TURN and CALL are ignored. */
  add(line: CoreLogLine): void {
    const message = line.json?.message;
    if (message === "TURN") {
      const parsed = turnLine.safeParse(line.json);
      if (parsed.success) this.#entry(parsed.data.call_id).turns.push(parsed.data);
    } else if (message === "CALL") {
      const parsed = callLine.safeParse(line.json);
      if (!parsed.success) return;
      const entry = this.#entry(parsed.data.call_id);
      entry.ended = true;
      for (const wake of entry.waiters.splice(0)) wake();
    }
  }

  /** The call's turns once its CALL line is in, or as they stand after `waitMs`. */
  async turnsOf(callSid: string, waitMs: number): Promise<CoreTurns> {
    const entry = this.#entry(callSid);
    if (!entry.ended && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        entry.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return { ended: entry.ended, turns: [...entry.turns] };
  }

  #entry(callSid: string): CallEntry {
    let entry = this.#calls.get(callSid);
    if (!entry) {
      this.#calls.set(callSid, (entry = { turns: [], ended: false, waiters: [] }));
      if (this.#calls.size > MAX_CALLS) this.#calls.delete(this.#calls.keys().next().value!);
    }
    return entry;
  }
}
