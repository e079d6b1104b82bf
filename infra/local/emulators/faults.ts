// When an emulator misbehaves: a schedule of faults over the requests (or streams) it receives,
// settable per test. Pure bookkeeping: each arrival asks take() which fault, if any, it gets.
import { seededRandom } from "../../random/seeded-random.js";

// The core names the call each request serves (CALL_ID_HEADER), so faults can target one call and the
// speech script follows each call.
export { CALL_ID_HEADER } from "@voice/protocol";

/**
 * Which arrivals a fault hits, counted from when it is added: at most one of nth, times and
 * probability (none: times 1, the next arrival).
 */
export interface FaultWhen {
  /** Only the nth arrival from now (1 = the next one). */
  nth?: number;
  /** The next `times` arrivals. Faults added this way queue: the second one added starts after the
   *  first is used up, as a list of "next" faults reads. */
  times?: number;
  /** Every arrival, each with this probability, until cleared. */
  probability?: number;
  /** Seed of a probability fault's own random sequence, so a run can be repeated (default 1). */
  seed?: number;
  /** Count only arrivals of this call (the x-call-id header); others pass untouched. */
  callId?: string;
}

export interface ScheduledFault<F> {
  fault: F;
  /** Default: the next arrival. */
  when?: FaultWhen;
}

interface Entry<F> {
  fault: F;
  callId: string | undefined;
  /** nth: arrivals still to let through before this one fires. */
  skip?: number;
  /** times: arrivals still to hit. */
  times?: number;
  /** probability: the chance and this entry's random source. */
  probability?: number;
  random?: () => number;
}

function checkWhen(when: FaultWhen): void {
  const given = (["nth", "times", "probability"] as const).filter((key) => when[key] !== undefined);
  if (given.length > 1) throw new Error(`a fault takes one of nth, times and probability, got ${given.join(" and ")}`);
  const whole = (n: number | undefined) => n === undefined || (Number.isInteger(n) && n >= 1);
  if (!whole(when.nth)) throw new Error(`fault 'nth' must be a whole number >= 1, got ${when.nth}`);
  if (!whole(when.times)) throw new Error(`fault 'times' must be a whole number >= 1, got ${when.times}`);
  if (when.probability !== undefined && !(when.probability >= 0 && when.probability <= 1)) {
    throw new Error(`fault 'probability' must be in [0, 1], got ${when.probability}`);
  }
}

export class FaultSchedule<F> {
  private entries: Entry<F>[] = [];

  constructor(initial: ScheduledFault<F>[] = []) {
    for (const { fault, when } of initial) this.add(fault, when);
  }

  /** Throws on a malformed `when` (a test's mistake, said at once rather than never firing). */
  add(fault: F, when: FaultWhen = {}): void {
    checkWhen(when);
    const base = { fault, callId: when.callId };
    if (when.nth !== undefined) this.entries.push({ ...base, skip: when.nth - 1 });
    else if (when.probability !== undefined) this.entries.push({ ...base, probability: when.probability, random: seededRandom(when.seed ?? 1) });
    else this.entries.push({ ...base, times: when.times ?? 1 });
  }

  clear(): void {
    this.entries = [];
  }

  /**
   * The fault for an arrival that just came (of call `callId`, if known), or undefined. An nth fault
   * that is due wins over a queued one, which wins over a random one; every random fault matching
   * the arrival draws, so each keeps its own repeatable sequence whatever else fires.
   */
  take(callId?: string): F | undefined {
    const matching = this.entries.filter((entry) => entry.callId === undefined || entry.callId === callId);
    let chosen: Entry<F> | undefined;
    for (const entry of matching) {
      if (entry.skip === undefined) continue;
      if (entry.skip === 0) chosen ??= entry;
      entry.skip--;
    }
    chosen ??= matching.find((entry) => entry.times !== undefined);
    if (chosen?.times !== undefined) chosen.times--;
    const drawn = matching.filter((entry) => entry.random && entry.random() < entry.probability!);
    chosen ??= drawn[0];
    // Spent nth and queued entries leave; an nth entry that another nth entry beat is spent too.
    this.entries = this.entries.filter((entry) => !(entry.skip !== undefined && entry.skip < 0) && entry.times !== 0);
    return chosen?.fault;
  }
}
