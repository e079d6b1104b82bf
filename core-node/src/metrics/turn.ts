// Builders of the TURN, BARGE_IN and CALL lines, in the shapes protocol/src/turn-line.ts defines
// (the schemas readers parse them with). Timings are wall-clock milliseconds from one monotonic
// clock; the moments about the caller's speech come from the caller's audio clock mapped to wall
// time (clock.ts). A metric whose stage did not happen is left out rather than faked.
import {
  CALL_ID_LABEL,
  TURN_SCHEMA_VERSION,
  type BargeInLineFields,
  type CallLineFields,
  type SpeculationOutcome,
  type TurnLineFields,
  type TurnTimelineOffsets,
} from "@voice/protocol";

/** Wall times (ms) of the moments a turn is measured between. */
export interface TurnTimeline {
  /** Speech start (VAD) on the caller's clock, mapped to wall time; the first key for keypad input. */
  speechStartAt: number;
  /** Speech end (VAD, before the hangover), mapped to wall time; the last key for keypad input. */
  speechEndAt: number;
  /** First STT result of the utterance (speech only). */
  firstResultAt?: number;
  /** End of utterance decided (after the hangover), or the keypad entry complete. */
  eouAt: number;
  /** The final arrived, or the partial was settled for at the timeout (speech with a transcript only). */
  transcriptAt?: number;
  llmRequestAt?: number;
  llmFirstTokenAt?: number;
  ttsRequestAt?: number;
  ttsReadyAt?: number;
  /** First frame of the answer sent towards the caller. */
  firstFrameAt?: number;
}

/** What a turn's TURN line says about the caller's input and what went wrong on the way. */
export interface TurnInputFacts {
  input: "speech" | "dtmf";
  transcript: string;
  usedPartial: boolean;
  /** The transcript came from the fallback transcription (streaming recognition was down). */
  sttFallback: boolean;
  speechStartAudioMs: number;
  speechEndAudioMs: number;
  /** Recognition streams reopened while the utterance was spoken, plus LLM and TTS requests retried for the answer. */
  retries: number;
  /** Fixed phrases spoken in place of what failed (recognition, LLM or TTS). */
  fallbacks: number;
  /** The tools the answer called (none: absent). */
  tools?: ToolUse[];
  /** Wall time spent waiting on tool rounds. */
  toolMs?: number;
  /** A filler played while a tool ran. */
  toolFiller?: boolean;
  /** Speech only: the end of utterance was held past the hangover (why, and the silence waited). */
  eouHold?: { reason: "function_word" | "filler" | "number"; ms: number };
  /** Speech only: pauses inside the utterance the hold bridged. */
  pausesHeld?: number;
  /** The turn continues one taken too early and taken back. */
  recoveredCutoff?: boolean;
}

export interface ToolUse {
  name: string;
  ok: boolean;
  ms: number;
}

export interface TurnFacts extends TurnInputFacts {
  callId: string;
  turn: number;
  cacheHit?: boolean;
  interrupted: boolean;
  sentences: number;
  ttsFailures: number;
  /** Whether the answer was prepared on a partial before the end of the utterance (and used), see call/speculation.ts. */
  speculation?: SpeculationOutcome;
  /** The answer's sentences sent towards the caller, in order (the logger redacts them as it does transcripts). */
  agentSentences: readonly string[];
}

const span = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? undefined : Math.round(to - from);

/** The turn's moments in whole milliseconds from its speech end, so a reader draws them on one axis (the TURN line's `timeline`). */
export function timelineOffsets(t: TurnTimeline): TurnTimelineOffsets {
  const from = (at: number | undefined) => span(t.speechEndAt, at);
  return {
    speech_start: Math.round(t.speechStartAt - t.speechEndAt),
    first_result: from(t.firstResultAt),
    eou: Math.round(t.eouAt - t.speechEndAt),
    stt_final: from(t.transcriptAt),
    llm_request: from(t.llmRequestAt),
    llm_first_token: from(t.llmFirstTokenAt),
    tts_request: from(t.ttsRequestAt),
    tts_ready: from(t.ttsReadyAt),
    first_frame: from(t.firstFrameAt),
  };
}

export function buildTurnLine(t: TurnTimeline, facts: TurnFacts): TurnLineFields {
  return {
    [CALL_ID_LABEL]: { call_id: facts.callId },
    call_id: facts.callId,
    schema_version: TURN_SCHEMA_VERSION,
    turn: facts.turn,
    input: facts.input,
    STT_FIRST_PARTIAL_MS: span(t.speechStartAt, t.firstResultAt),
    STT_FINAL_MS: span(t.speechEndAt, t.transcriptAt),
    LLM_FIRST_TOKEN_MS: span(t.llmRequestAt, t.llmFirstTokenAt),
    TTS_READY_MS: span(t.ttsRequestAt, t.ttsReadyAt),
    TOTAL_LATENCY_MS: span(t.speechEndAt, t.firstFrameAt),
    EOU_MS: span(t.speechEndAt, t.eouAt)!,
    ...(facts.input === "speech" ? { EOU_HOLD_MS: Math.round(facts.eouHold?.ms ?? 0) } : {}),
    ...(facts.eouHold ? { eou_hold: facts.eouHold.reason } : {}),
    ...(facts.pausesHeld ? { pauses_held: facts.pausesHeld } : {}),
    ...(facts.recoveredCutoff ? { recovered_cutoff: true } : {}),
    speech_start_audio_ms: Math.round(facts.speechStartAudioMs),
    speech_end_audio_ms: Math.round(facts.speechEndAudioMs),
    transcript: facts.transcript,
    transcript_chars: facts.transcript.length,
    stt_used_partial: facts.usedPartial,
    stt_fallback: facts.sttFallback,
    tts_cache_hit: facts.cacheHit,
    retries: facts.retries,
    fallbacks: facts.fallbacks,
    interrupted: facts.interrupted,
    answer_sentences: facts.sentences,
    tts_failures: facts.ttsFailures,
    speculation: facts.speculation,
    ...(facts.tools?.length ? { TOOL_MS: Math.round(facts.toolMs ?? 0), tools: facts.tools.map((t) => ({ ...t, ms: Math.round(t.ms) })), tool_filler: facts.toolFiller ?? false } : {}),
    timeline: timelineOffsets(t),
    agent_text: facts.agentSentences.join(" "),
  };
}

export interface BargeIn {
  callId: string;
  turn: number;
  reason: BargeInLineFields["reason"];
  heardSentences: number;
  voicedMs: number;
  audioMs: number;
  speechStartAudioMs?: number;
  /** Wall times of the deciding frame, transcript or key, and of `clear` sent. */
  decidedAt: number;
  clearedAt: number;
  transcript: string;
}

export function buildBargeInLine(b: BargeIn): BargeInLineFields {
  return {
    [CALL_ID_LABEL]: { call_id: b.callId },
    call_id: b.callId,
    turn: b.turn,
    reason: b.reason,
    heard_sentences: b.heardSentences,
    voiced_ms: Math.round(b.voicedMs),
    audio_ms: Math.round(b.audioMs),
    speech_start_audio_ms: b.speechStartAudioMs === undefined ? undefined : Math.round(b.speechStartAudioMs),
    // Sub-millisecond on a healthy core: keep a tenth of a millisecond.
    detect_to_clear_ms: Math.max(0, Math.round((b.clearedAt - b.decidedAt) * 10) / 10),
    transcript: b.transcript,
  };
}

export interface CallSummary {
  callId: string;
  durationMs: number;
  turns: number;
  dtmfTurns: number;
  bargeIns: number;
  backchannels: number;
  recoveredCutoffs: number;
  retries: number;
  fallbacks: number;
  cacheHits: number;
  ttsSyntheses: number;
  framesIn: number;
  framesOut: number;
  droppedFrames: number;
  sttErrors: number;
  sttReopens: number;
  sttRotations: number;
  endReason: string;
  totalLatenciesMs: number[];
  /** Tool calls made and failed (absent or 0: the call used no tools, and the line says nothing of them). */
  toolCalls?: number;
  toolFailures?: number;
}

export function buildCallLine(s: CallSummary): CallLineFields {
  const latencies = s.totalLatenciesMs;
  return {
    [CALL_ID_LABEL]: { call_id: s.callId },
    call_id: s.callId,
    duration_ms: Math.round(s.durationMs),
    turns: s.turns,
    dtmf_turns: s.dtmfTurns,
    barge_ins: s.bargeIns,
    backchannels: s.backchannels,
    recovered_cutoffs: s.recoveredCutoffs,
    retries: s.retries,
    fallbacks: s.fallbacks,
    cache_hits: s.cacheHits,
    tts_syntheses: s.ttsSyntheses,
    frames_in: s.framesIn,
    frames_out: s.framesOut,
    dropped_frames: s.droppedFrames,
    stt_errors: s.sttErrors,
    stt_reopens: s.sttReopens,
    stt_rotations: s.sttRotations,
    end_reason: s.endReason,
    ...(s.toolCalls ? { tool_calls: s.toolCalls, tool_failures: s.toolFailures ?? 0 } : {}),
    total_latency_ms_max: latencies.length ? Math.max(...latencies) : undefined,
    total_latency_ms_avg: latencies.length ? Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length) : undefined,
  };
}
