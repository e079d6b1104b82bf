// The call report: what the caller heard and how long it waited, per turn.
// `*_audio_ms` fields are on the caller's audio clock: media.timestamp ms since `start`, which is also
// the offset in the recording (caller frame n and the agent frame heard with it both sit at 20n).
// `*_at` fields are performance.now() of the process running the simulator.
import { SAMPLE_RATE } from "@voice/protocol";
import type { CallerKind } from "./conversation.js";
import type { CallRecording } from "./recording.js";

export interface TurnReport {
  /** The words spoken, or the keys pressed for dtmf ("" for noise). */
  caller_text: string;
  caller_kind: CallerKind;
  /** Whether the script wanted an answer to this line. */
  expect_answer: boolean;
  /** Sentences of this line's answer heard in full, joined by spaces. */
  agent_text: string;
  /** From the caller's last frame of the line sent to the first answer frame playing; null without an answer. */
  caller_latency_ms: number | null;
  /** Audio of this line's answer played. The rest of an earlier answer heard over the line is not this line's. */
  agent_audio_ms: number;
  /** That audio as played (mu-law, 8 kHz). */
  agent_audio: Uint8Array;
  /** Timestamp of the line's first frame (for dtmf: the frame of the first key). */
  speech_start_audio_ms: number | null;
  /** End of the line's last frame (for dtmf: of the frame of the last key). */
  speech_end_audio_ms: number | null;
  /** Where the first frame of this line's answer started playing; minus speech_end_audio_ms, the silence the caller heard. */
  first_answer_audio_ms: number | null;
  /** When that frame started playing (performance.now()). */
  first_answer_at: number | null;
  /** When it arrived, before waiting for its 20 ms playout slot (performance.now()). */
  first_answer_received_at: number | null;
  /** A clear arrived after this line started (and before the next line did). */
  interrupted_previous: boolean;
  /** Caller audio sent when that clear arrived: the agent's audio stops there in the recording. */
  clear_audio_ms: number | null;
}

export interface ClearReport {
  /** Caller audio sent when the clear arrived. */
  audio_ms: number;
  /** performance.now() when it arrived. */
  at: number;
}

export interface CallReport {
  call_sid: string;
  /** From sending `start` to receiving the first greeting media frame; null when none came. */
  greeting_ms: number | null;
  greeting_text: string;
  greeting_audio: Uint8Array;
  turns: TurnReport[];
  /** Every clear the edge sent, in order. */
  clears: ClearReport[];
  errors: string[];
  recording: CallRecording;
}

/** A tool an answer called, as the core logged it: its name, whether it succeeded, its time. */
export interface ToolUse {
  name: string;
  ok: boolean;
  ms: number;
}

/** The printable part of a report (the CLI's --json line): no audio, no process-local times. */
export interface CallSummary {
  call_sid: string;
  /** `tools`: present when the core's log was read (core-turns.ts), [] for a line whose answer called none. */
  turns: Array<Omit<TurnReport, "agent_audio" | "first_answer_at" | "first_answer_received_at"> & { tools?: ToolUse[] }>;
  greeting_ms: number | null;
  clears_audio_ms: number[];
  errors: string[];
}

export function audioMs(bytes: number): number {
  return Math.round((bytes * 1000) / SAMPLE_RATE);
}

export function summarize(report: CallReport): CallSummary {
  return {
    call_sid: report.call_sid,
    turns: report.turns.map(({ agent_audio: _audio, first_answer_at: _at, first_answer_received_at: _received, ...printable }) => printable),
    greeting_ms: report.greeting_ms,
    clears_audio_ms: report.clears.map((clear) => clear.audio_ms),
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
      `${String(i + 1).padEnd(4)}  ${formatMs(turn.caller_latency_ms).padStart(7)}  ${formatMs(turn.agent_audio_ms).padStart(11)}  caller: ${callerLabel(turn)}`,
      `${" ".repeat(28)}agent:  ${turn.agent_text || "(no sentence heard in full)"}`,
    );
  });
  out.push(report.errors.length ? `errors:\n${report.errors.map((e) => `  - ${e}`).join("\n")}` : "errors: none");
  return out.join("\n");
}

function callerLabel(turn: TurnReport): string {
  const lineMs = (turn.speech_end_audio_ms ?? 0) - (turn.speech_start_audio_ms ?? 0);
  const said = turn.caller_kind === "speech" ? turn.caller_text : turn.caller_kind === "dtmf" ? `[keys ${turn.caller_text}]` : `[noise ${lineMs} ms]`;
  return turn.interrupted_previous ? `${said}  (agent cut off at ${turn.clear_audio_ms} ms)` : said;
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
