// The call report: what the caller heard and how long it waited, per turn, and how the call ended.
// `*_audio_ms` fields are on the caller's audio clock: media.timestamp ms since `start`, which is also
// the offset in the recording (caller frame n and the agent frame heard with it both sit at 20n). A
// call that came back to the agent after a transfer has a stream after the first: its times go on
// from the end of the previous stream's audio, as its recording follows the previous one's.
// `*_at` fields are performance.now() of the process running the simulator.
import { SAMPLE_RATE } from "@voice/protocol";
import type { EndedBy, SaidByTwilio } from "./call-control.js";
import type { CallerKind } from "./conversation.js";
import { concat, type CallRecording } from "./recording.js";

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

/** What one media stream heard (a call has more than one after it came back from a transfer). */
export interface StreamReport {
  /** From sending `start` to receiving the first agent media frame; null when none came. */
  greeting_ms: number | null;
  /** The agent's first words on the stream: the greeting, or what it said first after a return. */
  greeting_text: string;
  greeting_audio: Uint8Array;
  turns: TurnReport[];
  clears: ClearReport[];
  recording: CallRecording;
}

/** How the call ended, as the simulated Twilio followed the edge's TwiML after the media stream. */
export interface CallControlReport {
  /** Who ended the call; the rule is in call-control.ts. */
  ended_by: EndedBy;
  /** The last number a <Dial> rang (the staff, or the fallback number); null when none was dialled. */
  transferred_to: string | null;
  /** DialCallStatus of that dial ("completed" once answered, "no-answer", "busy", "failed"); null without one. */
  dial_outcome: string | null;
  /** From the end of the last agent audio frame played to the caller to that dial's ring; null without a dial (or no agent audio before it). */
  dead_air_ms: number | null;
  /** The caller came back to the agent on a new stream (a transfer nobody took). */
  returned_to_agent: boolean;
  /** What the staff member heard when they answered (the <Number url>'s <Say>s); null when none played. */
  whisper_text: string | null;
  /** Every <Say> Twilio played to the caller, in order. */
  say_texts: SaidByTwilio[];
  /** The agent's first words each time the caller came back to it. */
  return_answers: string[];
  /** Script lines the caller never got to say (the call ended before them), as formatted in the report. */
  unsaid_lines: string[];
}

export interface CallReport extends CallControlReport {
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

/** The call's report from its streams in order (none when it never got one) and how it ended. */
export function callReport(callSid: string, streams: StreamReport[], control: CallControlReport, errors: string[]): CallReport {
  const [first] = streams;
  let offsetMs = 0;
  const turns: TurnReport[] = [];
  const clears: ClearReport[] = [];
  for (const stream of streams) {
    const shift = (ms: number | null) => (ms === null ? null : ms + offsetMs);
    for (const turn of stream.turns) {
      turns.push({
        ...turn,
        speech_start_audio_ms: shift(turn.speech_start_audio_ms),
        speech_end_audio_ms: shift(turn.speech_end_audio_ms),
        first_answer_audio_ms: shift(turn.first_answer_audio_ms),
        clear_audio_ms: shift(turn.clear_audio_ms),
      });
    }
    for (const clear of stream.clears) clears.push({ ...clear, audio_ms: clear.audio_ms + offsetMs });
    offsetMs += audioMs(stream.recording.caller.length);
  }
  return {
    call_sid: callSid,
    greeting_ms: first?.greeting_ms ?? null,
    greeting_text: first?.greeting_text ?? "",
    greeting_audio: first?.greeting_audio ?? new Uint8Array(0),
    turns,
    clears,
    errors,
    recording: {
      caller: concat(streams.map((stream) => stream.recording.caller)),
      agent: concat(streams.map((stream) => stream.recording.agent)),
    },
    ...control,
  };
}

/** A tool an answer called, as the core logged it: its name, whether it succeeded, its time. */
export interface ToolUse {
  name: string;
  ok: boolean;
  ms: number;
}

/**
 * The printable part of a report (the CLI's --json line): no audio, no process-local times. The
 * call-control fields are always written; they are optional for summaries written before they were.
 */
export interface CallSummary extends Partial<CallControlReport> {
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
    ended_by: report.ended_by,
    transferred_to: report.transferred_to,
    dial_outcome: report.dial_outcome,
    dead_air_ms: report.dead_air_ms,
    returned_to_agent: report.returned_to_agent,
    whisper_text: report.whisper_text,
    say_texts: report.say_texts,
    return_answers: report.return_answers,
    unsaid_lines: report.unsaid_lines,
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
  out.push(...callControlLines(report));
  out.push(report.errors.length ? `errors:\n${report.errors.map((e) => `  - ${e}`).join("\n")}` : "errors: none");
  return out.join("\n");
}

function callControlLines(report: CallReport): string[] {
  const out = [`ended by: ${report.ended_by}`];
  for (const say of report.say_texts) out.push(`twilio said${say.language ? ` (${say.language})` : ""}: ${say.text}`);
  if (report.transferred_to !== null) {
    out.push(`dialled ${report.transferred_to}: ${report.dial_outcome}, ${formatMs(report.dead_air_ms)} of dead air before the ring`);
  }
  if (report.whisper_text !== null) out.push(`whisper to the staff: ${report.whisper_text}`);
  for (const answer of report.return_answers) out.push(`back to the agent: ${answer || "(no sentence heard in full)"}`);
  if (report.unsaid_lines.length) out.push(`not said (the call ended first): ${report.unsaid_lines.join(" | ")}`);
  return out;
}

function callerLabel(turn: TurnReport): string {
  const lineMs = (turn.speech_end_audio_ms ?? 0) - (turn.speech_start_audio_ms ?? 0);
  const said = lineLabel(turn.caller_kind, turn.caller_text, lineMs);
  return turn.interrupted_previous ? `${said}  (agent cut off at ${turn.clear_audio_ms} ms)` : said;
}

/** A script line as the report shows it: the words, or what the caller did instead. */
export function lineLabel(kind: CallerKind, text: string, ms: number): string {
  switch (kind) {
    case "speech":
      return text;
    case "dtmf":
      return `[keys ${text}]`;
    default:
      return `[${kind} ${ms} ms]`;
  }
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
