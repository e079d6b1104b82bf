// Test inputs shaped the way their producers write them: the core's stdout (pino, Cloud Logging's
// structured format), a `gcloud logging read --format=json` export of it from Cloud Run, and the
// simulator's `--json` CallSummary. TURN lines are built from a turn's stage durations (so TOTAL is
// consistent with its parts, as in core-node/src/metrics/turn.ts) and checked with the shared schema;
// a leaner or older core's lines (leanTurn) with the gate's own reader.
import { CALL_ID_LABEL, TURN_METRICS, TURN_SCHEMA_VERSION, turnLine, type TurnLine } from "@voice/protocol";
import type { CallSummary } from "../sim/report.js";
import { readTurnLine, type GateTurnLine } from "./turn-sample.js";

const CALLER_LINES = ["שלום, מה שעות הפתיחה שלכם?", "אפשר לקבוע תור למחר בבוקר?", "תודה רבה, להתראות"];

/** How long each stage of a turn took (ms); the TURN line's metrics follow from them. */
export interface Stages {
  firstPartial: number;
  final: number;
  /** The VAD hangover: speech end to end of utterance. */
  eou: number;
  llmFirstToken: number;
  /** LLM first token to the end of the first sentence. */
  firstSentence: number;
  ttsReady: number;
  /** Everything else between speech end and the first frame sent. */
  io: number;
}

/** A healthy spoken turn, varied a little by call and turn like real ones. */
export function healthyStages(call: number, turn: number): Stages {
  const j = (call * 31 + turn * 17) % 60;
  return { firstPartial: 280 + j, final: 430 + j, eou: 165, llmFirstToken: 380 + j * 2, firstSentence: 160 + j, ttsReady: 140 + j, io: 25 };
}

/** The fields of a spoken turn's TURN line as the core puts them (before the logger adds severity and timestamp). */
export function turnFields(callId: string, turn: number, stages: Stages, facts: Partial<TurnLine> = {}): Omit<TurnLine, "message"> {
  const speechStart = 4000 + turn * 9000;
  const speechEnd = speechStart + 1600;
  const transcript = CALLER_LINES[(turn - 1) % CALLER_LINES.length]!;
  return {
    [CALL_ID_LABEL]: { call_id: callId },
    call_id: callId,
    turn,
    input: "speech",
    STT_FIRST_PARTIAL_MS: stages.firstPartial,
    STT_FINAL_MS: stages.final,
    LLM_FIRST_TOKEN_MS: stages.llmFirstToken,
    TTS_READY_MS: stages.ttsReady,
    TOTAL_LATENCY_MS: Math.max(stages.final, stages.eou) + stages.llmFirstToken + stages.firstSentence + stages.ttsReady + stages.io,
    EOU_MS: stages.eou,
    speech_start_audio_ms: speechStart,
    speech_end_audio_ms: speechEnd,
    transcript,
    transcript_chars: transcript.length,
    stt_used_partial: false,
    stt_fallback: false,
    tts_cache_hit: false,
    retries: 0,
    fallbacks: 0,
    interrupted: false,
    answer_sentences: 2,
    tts_failures: 0,
    ...facts,
  };
}

/** What a schema 2 core adds to a spoken turn's line: the turn's moments from its speech end, and the answer's words. */
export function schema2Facts(stages: Stages): Partial<TurnLine> {
  const llmRequest = Math.max(stages.final, stages.eou);
  const llmFirstToken = llmRequest + stages.llmFirstToken;
  const ttsRequest = llmFirstToken + stages.firstSentence;
  const ttsReady = ttsRequest + stages.ttsReady;
  return {
    schema_version: TURN_SCHEMA_VERSION,
    timeline: {
      speech_start: -1600,
      first_result: -1600 + stages.firstPartial,
      eou: stages.eou,
      stt_final: stages.final,
      llm_request: llmRequest,
      llm_first_token: llmFirstToken,
      tts_request: ttsRequest,
      tts_ready: ttsReady,
      first_frame: ttsReady + stages.io,
    },
    agent_text: "אנחנו פתוחים בימים א׳ עד ה׳ מתשע עד חמש.",
  };
}

/** The fields of a TURN line as any core writes them (before the logger adds severity and timestamp). */
export type TurnLineFields = Omit<GateTurnLine, "message">;

/** `line` as a leaner core writes it: the call id (in the field and the label) and the seed metrics it has, and `keep`. */
export function leanTurn(line: Omit<TurnLine, "message">, keep: ReadonlyArray<keyof Omit<TurnLine, "message">> = []): TurnLineFields {
  const lean: TurnLineFields = { [CALL_ID_LABEL]: { call_id: line.call_id }, call_id: line.call_id };
  for (const field of [...TURN_METRICS, ...keep]) if (line[field] !== undefined) Object.assign(lean, { [field]: line[field] });
  return lean;
}

/** A tool the answer called, as the TURN line lists it. */
export type ToolUse = NonNullable<TurnLine["tools"]>[number];

/**
 * A turn whose answer called `tools`, one after another: TOOL_MS is their time and the TOTAL waited
 * on it, on top of the turn's stages. Pass `TOTAL_LATENCY_MS` or `TOOL_MS` in `facts` to set them.
 */
export function toolTurnFacts(stages: Stages, tools: ToolUse[], facts: Partial<TurnLine> = {}): Partial<TurnLine> {
  const toolMs = tools.reduce((sum, t) => sum + t.ms, 0);
  const total = Math.max(stages.final, stages.eou) + stages.llmFirstToken + stages.firstSentence + stages.ttsReady + stages.io + toolMs;
  return { TOTAL_LATENCY_MS: total, TOOL_MS: toolMs, tools, tool_filler: false, ...facts };
}

/** A call's TURN lines; `stages(turn)` and `facts(turn, stages)` change what a test is about. */
export function callTurns(
  call: number,
  turns: number,
  stages: (turn: number, healthy: Stages) => Stages = (_turn, healthy) => healthy,
  facts: (turn: number, stages: Stages) => Partial<TurnLine> = () => ({}),
): Array<Omit<TurnLine, "message">> {
  return Array.from({ length: turns }, (_, i) => {
    const turnStages = stages(i + 1, healthyStages(call, i + 1));
    return turnFields(callSid(call), i + 1, turnStages, facts(i + 1, turnStages));
  });
}

/** A Twilio-looking call SID, stable per call number. */
export function callSid(call: number): string {
  return `CA${call.toString(16).padStart(32, "0")}`;
}

// ---- the core's stdout -------------------------------------------------------------------------

interface StdoutLine {
  severity: string;
  timestamp: string;
  message: string;
  [field: string]: unknown;
}

const START = Date.parse("2026-03-02T09:15:00.000Z");

/** One line as pino writes it for the core: severity and timestamp first, the message last. */
function logLine(message: string, fields: object, at: number, severity = "INFO"): StdoutLine {
  return { severity, timestamp: new Date(START + at).toISOString(), ...fields, message };
}

/** Everything the core writes while serving `calls` (each a list of TURN fields), in order. */
export function coreLog(calls: TurnLineFields[][]): StdoutLine[] {
  const lines: StdoutLine[] = [logLine("APP_START", { port: 8080, language: "he-IL", warmup: { ok: true, tts_warmup_ms: 212 }, status: "ok" }, 0)];
  calls.forEach((turns, c) => {
    const callId = turns[0]!.call_id;
    const ids = { [CALL_ID_LABEL]: { call_id: callId }, call_id: callId };
    const at = (c + 1) * 60_000;
    lines.push(logLine("CALL_START", { ...ids, stream_sid: `MZ${callId.slice(2)}` }, at));
    turns.forEach((turn, t) => lines.push(logLine("TURN", turn, at + (t + 1) * 9000)));
    lines.push(
      logLine(
        "CALL",
        { ...ids, duration_ms: turns.length * 9000 + 4000, turns: turns.length, dtmf_turns: 0, barge_ins: 0, backchannels: 0, retries: 0, fallbacks: 0 },
        at + (turns.length + 1) * 9000,
      ),
    );
  });
  // Whole lines as the shared schema has them; lean ones as the gate reads them, nothing unreadable.
  for (const line of lines.filter((l) => l.message === "TURN")) {
    const read = readTurnLine(line, "fixture");
    if (!read.ok || read.sample.unreadable.length) throw new Error(`fixture TURN line unreadable: ${JSON.stringify(line)}`);
    if (read.sample.missing.length === 0) turnLine.parse(line);
  }
  return lines;
}

/** Raw stdout: one JSON object per line, with what else ends up there (a node warning, a blank line). */
export function coreStdout(lines: StdoutLine[]): string {
  const text = lines.map((line) => JSON.stringify(line));
  text.splice(1, 0, "(node:7) ExperimentalWarning: some feature is experimental", "");
  return `${text.join("\n")}\n`;
}

// ---- a Cloud Logging export --------------------------------------------------------------------

/**
 * `gcloud logging read --format=json` over the core's Cloud Run logs: newest entry first, keys
 * sorted, two-space indent; severity, timestamp and the call label lifted out of jsonPayload; a
 * non-JSON line as textPayload and a request log entry without a payload, as Cloud Run writes them.
 */
export function cloudLoggingExport(lines: StdoutLine[]): string {
  const resource = {
    labels: {
      configuration_name: "voice-core",
      location: "europe-west1",
      project_id: "voice-agent-staging",
      revision_name: "voice-core-00042-xuv",
      service_name: "voice-core",
    },
    type: "cloud_run_revision",
  };
  const stdout = "projects/voice-agent-staging/logs/run.googleapis.com%2Fstdout";
  const entries: object[] = lines.map((line, i) => {
    const { severity, timestamp, [CALL_ID_LABEL]: callLabel, ...payload } = line;
    return {
      insertId: `69a5${i.toString(16).padStart(8, "0")}`,
      jsonPayload: payload,
      labels: { ...(callLabel as object | undefined), instanceId: "0069c7a988e6f2a1c8" },
      logName: stdout,
      receiveTimestamp: new Date(Date.parse(timestamp) + 41).toISOString(),
      resource,
      severity,
      timestamp,
    };
  });
  entries.push(
    { insertId: "69a5text", labels: { instanceId: "0069c7a988e6f2a1c8" }, logName: stdout, resource, textPayload: "npm warn config production Use `--omit=dev` instead.", timestamp: new Date(START).toISOString() },
    {
      httpRequest: { latency: "0.002s", protocol: "HTTP/1.1", requestMethod: "GET", requestUrl: "https://voice-core-xyz.a.run.app/health", status: 200 },
      insertId: "69a5req",
      logName: "projects/voice-agent-staging/logs/run.googleapis.com%2Frequests",
      resource,
      severity: "INFO",
      timestamp: new Date(START + 1).toISOString(),
    },
  );
  entries.sort((a, b) => Date.parse((b as { timestamp: string }).timestamp) - Date.parse((a as { timestamp: string }).timestamp));
  return `${JSON.stringify(sortKeys(entries), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

// ---- the simulator's --json output -------------------------------------------------------------

/** A smoke call's CallSummary: the default caller script, each line answered after `latencies[i]` ms (null: no answer). */
export function simulatorSummary(call: number, latencies: Array<number | null>, errors: string[] = []): CallSummary {
  return {
    call_sid: callSid(call),
    greeting_ms: 38,
    clears_audio_ms: [],
    errors,
    turns: latencies.map((latency, i) => {
      const start = 4000 + i * 9000;
      return {
        caller_text: CALLER_LINES[i % CALLER_LINES.length]!,
        caller_kind: "speech",
        expect_answer: true,
        agent_text: latency === null ? "" : "אנחנו פתוחים בימים א׳ עד ה׳ מתשע עד חמש.",
        caller_latency_ms: latency,
        agent_audio_ms: latency === null ? 0 : 2840,
        speech_start_audio_ms: start,
        speech_end_audio_ms: start + 1600,
        first_answer_audio_ms: latency === null ? null : start + 1600 + latency,
        interrupted_previous: false,
        clear_audio_ms: null,
      };
    }),
  };
}

/** What `npm run call -- --json` prints: the summary as one line, last. */
export function simulatorOutput(summaries: CallSummary[]): string {
  return summaries.map((s) => `${JSON.stringify(s)}\n`).join("");
}
