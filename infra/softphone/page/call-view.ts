// The live call view's model: from what the core logged of a call (its TURN, BARGE_IN and CALL lines)
// and what the page itself heard (when each answer began to play), the conversation turn by turn —
// the caller's words, the agent's, the turn's waterfall, its barge-ins and speculation. A call that
// moved (a transfer that came back) has one media stream per leg; the core ends each with a CALL line
// and numbers the next one's turns afresh, so lines are taken stream by stream. Pure.
import type { BargeInLine, CallLine, TurnLine } from "@voice/protocol/turn-line";
import type { CoreCallLine } from "../../local/core-call-log.js";
import type { HeardFacts } from "../wire.js";
import { waterfall, type Waterfall } from "./waterfall.js";

/** A turn's key in the call: turns are numbered afresh on each media stream. */
export const heardKey = (stream: number, turn: number) => `${stream}:${turn}`;

export interface TurnView {
  /** "<stream>:<turn>", unique in the call. */
  key: string;
  stream: number;
  turn: number;
  callerText: string;
  /** The agent's words; null when the core's line does not carry them (schema 1). */
  agentText: string | null;
  speculation: TurnLine["speculation"];
  interrupted: boolean;
  bargeIns: BargeInLine[];
  waterfall: Waterfall;
}

export interface CallView {
  turns: TurnView[];
  /** Barge-ins into a stream's opening words (the greeting: turn 0). */
  openingBargeIns: BargeInLine[];
  /** The CALL line of each stream that ended. */
  ends: CallLine[];
}

export function callView(lines: readonly CoreCallLine[], heard: HeardFacts): CallView {
  const view: CallView = { turns: [], openingBargeIns: [], ends: [] };
  let stream = 0;
  const bargeIns = new Map<string, BargeInLine[]>();
  const turnLines: { stream: number; line: TurnLine }[] = [];
  for (const line of lines) {
    if (line.message === "TURN") turnLines.push({ stream, line });
    else if (line.message === "BARGE_IN") {
      if (line.turn === 0) view.openingBargeIns.push(line);
      else bargeIns.set(heardKey(stream, line.turn), [...(bargeIns.get(heardKey(stream, line.turn)) ?? []), line]);
    } else {
      view.ends.push(line);
      stream++;
    }
  }
  view.turns = turnLines.map(({ stream, line }) => {
    const key = heardKey(stream, line.turn);
    const heardAt = heard[key];
    const cuts = bargeIns.get(key) ?? [];
    return {
      key,
      stream,
      turn: line.turn,
      callerText: line.transcript,
      agentText: line.agent_text ?? null,
      speculation: line.speculation,
      interrupted: line.interrupted,
      bargeIns: cuts,
      waterfall: waterfall(line, heardAt === undefined ? null : heardAt - line.speech_end_audio_ms, cuts),
    };
  });
  return view;
}

/** The turn whose answer a mark closes ("3.1:sentence" is turn 3's); null for the edge's own phrases ("greeting"). */
export function markTurn(name: string): number | null {
  const match = /^(\d+)\.\d+:/.exec(name) ?? /^(\d+)\.end$/.exec(name);
  return match ? Number(match[1]) : null;
}
