// Writes each turn's TURN line, holding back the latest while its turn may still be taken back: a
// turn taken in a pause of an unfinished sentence is withdrawn when the caller speaks on before
// hearing its answer (listening.ts, recoverCutoff), and a withdrawn turn has no line: the line of
// the turn that carries its words on says `recovered_cutoff`.
import type { TurnLineFields } from "@voice/protocol";
import type { Logger } from "../metrics/log.js";
import type { Answer } from "./answer.js";

export class TurnLines {
  private held: { answer: Answer; line: TurnLineFields } | undefined;

  constructor(
    private readonly lines: Logger,
    /** The call's TOTAL_LATENCY_MS of each line written, for its CALL line. */
    private readonly latenciesMs: number[],
  ) {}

  /** `answer`'s line: held while its turn may be taken back (the listening has not said it stands), else written. */
  add(answer: Answer, line: TurnLineFields): void {
    this.flush();
    if (answer.mayBeRetracted && !answer.interrupted) this.held = { answer, line };
    else this.write(line);
  }

  private write(line: TurnLineFields): void {
    if (line.TOTAL_LATENCY_MS !== undefined) this.latenciesMs.push(line.TOTAL_LATENCY_MS);
    this.lines.info(line, "TURN");
  }

  /** The held line's turn stands (the caller heard its answer, spoke anew, or stayed silent long enough): written. */
  flush(): void {
    const held = this.held;
    this.held = undefined;
    if (held) this.write(held.line);
  }

  /** `answer`'s turn was taken back: its line, if held, is never written. */
  drop(answer: Answer): void {
    if (this.held?.answer === answer) this.held = undefined;
  }
}
