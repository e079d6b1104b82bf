// What the local stack's cores logged, call by call: every TURN and BARGE_IN line and whether the
// call's CALL line (its end) has been written, across core restarts (a moved call's turns come from
// both cores). The caller-script registry serves it to the simulator, whose report takes each turn's
// tools from it; the softphone's live call view follows it line by line (subscribe).
import { bargeInLine, callLine, turnLine, type BargeInLine, type CallLine, type TurnLine } from "@voice/protocol";
import type { CoreTurns } from "../caller-scripts/registration.js";
import type { CoreLogLine } from "./core-process.js";

/** A line the call log keeps, as parsed. */
export type CoreCallLine = TurnLine | BargeInLine | CallLine;

interface CallEntry {
  /** The call's kept lines, in the order the cores wrote them. */
  lines: CoreCallLine[];
  ended: boolean;
  waiters: (() => void)[];
}

/** Calls remembered; past it the oldest go (a long `npm start` session must not grow without end). */
const MAX_CALLS = 1000;

const SCHEMAS = { TURN: turnLine, BARGE_IN: bargeInLine, CALL: callLine } as const;

export class CoreCallLog {
  readonly #calls = new Map<string, CallEntry>();
  readonly #listeners = new Set<(line: CoreCallLine) => void>();

  /** Feeds one line a core wrote; lines other than TURN, BARGE_IN and CALL (or not of their schema) are ignored. */
  add(line: CoreLogLine): void {
    const message = line.json?.message;
    if (message !== "TURN" && message !== "BARGE_IN" && message !== "CALL") return;
    const parsed = SCHEMAS[message].safeParse(line.json);
    if (!parsed.success) return;
    const kept = parsed.data;
    const entry = this.#entry(kept.call_id);
    entry.lines.push(kept);
    if (kept.message === "CALL") {
      entry.ended = true;
      for (const wake of entry.waiters.splice(0)) wake();
    }
    for (const listener of this.#listeners) listener(kept);
  }

  /** Calls `listener` with every line kept from now on (any call); returns the unsubscribe. */
  subscribe(listener: (line: CoreCallLine) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** The call's lines kept so far, in order (none for a call never seen). */
  linesOf(callSid: string): CoreCallLine[] {
    return [...(this.#calls.get(callSid)?.lines ?? [])];
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
    return { ended: entry.ended, turns: entry.lines.filter((line): line is TurnLine => line.message === "TURN") };
  }

  #entry(callSid: string): CallEntry {
    let entry = this.#calls.get(callSid);
    if (!entry) {
      this.#calls.set(callSid, (entry = { lines: [], ended: false, waiters: [] }));
      if (this.#calls.size > MAX_CALLS) this.#calls.delete(this.#calls.keys().next().value!);
    }
    return entry;
  }
}
