// Keypad (DTMF) digits into turns. Pure: key presses and timer expiries in, actions out; the call
// session owns the timer. An entry ends with "#" or after DTMF_TIMEOUT_MS without another key, and
// reaches the LLM as one user message of a fixed, language-neutral shape: "[keypad] 1 2 3 #"
// (the default system prompt explains it to the model).

/** Keys after which an entry ends even without "#": nobody types more on a phone keypad. */
const MAX_KEYS = 32;

/** A point in time on both clocks: wall (ms) and the caller's audio clock. */
export interface KeyMoment {
  at: number;
  audioMs: number;
}

export interface KeypadEntry {
  /** Keys pressed in order, "#" included when it ended the entry. */
  keys: string;
  first: KeyMoment;
  last: KeyMoment;
  /** Wall time the entry was complete ("#" pressed, or the timeout fired). */
  completedAt: number;
}

export type DtmfAction =
  /** Ask the shell for a timer; it answers with `timeout(id)`. */
  | { type: "awaitKey"; id: number; timeoutMs: number }
  | { type: "entry"; entry: KeypadEntry };

/** The user message an entry becomes. */
export function keypadMessage(keys: string): string {
  return `[keypad] ${[...keys].join(" ")}`;
}

export class DtmfCollector {
  private keys = "";
  private first: KeyMoment | undefined;
  private last: KeyMoment | undefined;
  private timerId = 0;

  constructor(private readonly timeoutMs: number) {}

  /** True while keys are collected and no entry was formed yet. */
  get collecting(): boolean {
    return this.keys !== "";
  }

  press(key: string, moment: KeyMoment): DtmfAction {
    this.keys += key;
    this.first ??= moment;
    this.last = moment;
    if (key === "#" || this.keys.length >= MAX_KEYS) return this.complete(moment.at);
    return { type: "awaitKey", id: ++this.timerId, timeoutMs: this.timeoutMs };
  }

  timeout(id: number, at: number): DtmfAction | undefined {
    if (id !== this.timerId || !this.collecting) return undefined;
    return this.complete(at);
  }

  private complete(at: number): DtmfAction {
    const entry: KeypadEntry = { keys: this.keys, first: this.first!, last: this.last!, completedAt: at };
    this.keys = "";
    this.first = undefined;
    this.last = undefined;
    this.timerId++;
    return { type: "entry", entry };
  }
}
