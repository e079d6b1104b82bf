// The call report: what the caller heard and how long it waited, per turn.
import { SAMPLE_RATE } from "@voice/protocol";
import type { CallRecording } from "./recording.js";

export interface TurnReport {
  caller_text: string;
  /** Sentences of the answer heard in full, joined by spaces. */
  agent_text: string;
  /** From the caller's last speech frame sent to the first answer frame playing; null without an answer. */
  caller_latency_ms: number | null;
  /** Agent audio played during this turn. */
  agent_audio_ms: number;
  /** That audio as played (mu-law, 8 kHz). */
  agent_audio: Uint8Array;
}

export interface CallReport {
  call_sid: string;
  /** From sending `start` to receiving the first greeting media frame; null when none came. */
  greeting_ms: number | null;
  greeting_text: string;
  greeting_audio: Uint8Array;
  turns: TurnReport[];
  errors: string[];
  recording: CallRecording;
}

/** The printable part of a report (the CLI's --json line). */
export interface CallSummary {
  call_sid: string;
  turns: Array<Pick<TurnReport, "caller_text" | "agent_text" | "caller_latency_ms" | "agent_audio_ms">>;
  greeting_ms: number | null;
  errors: string[];
}

export function audioMs(bytes: number): number {
  return Math.round((bytes * 1000) / SAMPLE_RATE);
}

export function summarize(report: CallReport): CallSummary {
  return {
    call_sid: report.call_sid,
    turns: report.turns.map(({ caller_text, agent_text, caller_latency_ms, agent_audio_ms }) => ({
      caller_text,
      agent_text,
      caller_latency_ms,
      agent_audio_ms,
    })),
    greeting_ms: report.greeting_ms,
    errors: report.errors,
  };
}

/** A readable per-turn table for a terminal. */
export function formatReport(report: CallReport): string {
  const greetingText = report.greeting_text ? `: ${report.greeting_text}` : "";
  const out = [`call ${report.call_sid}`, `greeting: first audio after ${formatMs(report.greeting_ms)}${greetingText}`];
  out.push(`${"turn".padEnd(4)}  ${"latency".padStart(7)}  ${"agent audio".padStart(11)}  caller / agent`);
  report.turns.forEach((turn, i) => {
    out.push(
      `${String(i + 1).padEnd(4)}  ${formatMs(turn.caller_latency_ms).padStart(7)}  ${formatMs(turn.agent_audio_ms).padStart(11)}  caller: ${turn.caller_text}`,
      `${" ".repeat(28)}agent:  ${turn.agent_text || "(no sentence heard in full)"}`,
    );
  });
  out.push(report.errors.length ? `errors:\n${report.errors.map((e) => `  - ${e}`).join("\n")}` : "errors: none");
  return out.join("\n");
}

function formatMs(ms: number | null): string {
  return ms === null ? "-" : `${ms} ms`;
}

/** Call errors, each reason once (a broken edge can repeat one fault every 20 ms). */
export class ErrorLog {
  readonly messages: string[] = [];

  add(message: string): void {
    if (!this.messages.includes(message)) this.messages.push(message);
  }
}
