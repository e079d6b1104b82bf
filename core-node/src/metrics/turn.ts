// The TURN line (one per turn) and the CALL line (one per call), as Cloud Logging structured
// entries. Timings are wall-clock milliseconds from one monotonic clock; a metric whose stage did
// not happen (no LLM token, no audio) is left out rather than faked.

export const CALL_ID_LABEL = "logging.googleapis.com/labels";

/** Wall times (ms) of the moments a turn is measured between. */
export interface TurnTimeline {
  /** Arrival of the frame where speech starts (VAD). */
  speechStartAt: number;
  /** Arrival of the frame where speech ends (VAD, before the hangover). */
  speechEndAt: number;
  /** First partial of the utterance (or the final, if no partial came). */
  firstResultAt?: number;
  /** End of utterance decided (after the hangover). */
  eouAt: number;
  /** The final arrived, or the partial was settled for at the timeout. */
  transcriptAt: number;
  llmRequestAt?: number;
  llmFirstTokenAt?: number;
  ttsRequestAt?: number;
  ttsReadyAt?: number;
  /** First frame of the answer sent towards the caller. */
  firstFrameAt?: number;
}

export interface TurnFacts {
  callId: string;
  turn: number;
  transcript: string;
  usedPartial: boolean;
  cacheHit?: boolean;
  retries: number;
  fallbacks: number;
  interrupted: boolean;
  sentences: number;
  /** Sentences skipped because synthesis failed. */
  ttsFailures: number;
}

const span = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? undefined : Math.round(to - from);

export function turnLine(t: TurnTimeline, facts: TurnFacts) {
  return {
    [CALL_ID_LABEL]: { call_id: facts.callId },
    STT_FIRST_PARTIAL_MS: span(t.speechStartAt, t.firstResultAt),
    STT_FINAL_MS: span(t.speechEndAt, t.transcriptAt),
    LLM_FIRST_TOKEN_MS: span(t.llmRequestAt, t.llmFirstTokenAt),
    TTS_READY_MS: span(t.ttsRequestAt, t.ttsReadyAt),
    TOTAL_LATENCY_MS: span(t.speechEndAt, t.firstFrameAt),
    EOU_MS: span(t.speechEndAt, t.eouAt),
    call_id: facts.callId,
    turn: facts.turn,
    transcript: facts.transcript,
    transcript_chars: facts.transcript.length,
    stt_used_partial: facts.usedPartial,
    tts_cache_hit: facts.cacheHit,
    retries: facts.retries,
    fallbacks: facts.fallbacks,
    interrupted: facts.interrupted,
    answer_sentences: facts.sentences,
    tts_failures: facts.ttsFailures,
  };
}

export interface CallSummary {
  callId: string;
  durationMs: number;
  turns: number;
  bargeIns: number;
  framesIn: number;
  framesOut: number;
  droppedFrames: number;
  sttErrors: number;
  sttReopens: number;
  endReason: string;
  totalLatenciesMs: number[];
}

export function callLine(s: CallSummary) {
  const latencies = s.totalLatenciesMs;
  return {
    [CALL_ID_LABEL]: { call_id: s.callId },
    call_id: s.callId,
    duration_ms: Math.round(s.durationMs),
    turns: s.turns,
    barge_ins: s.bargeIns,
    frames_in: s.framesIn,
    frames_out: s.framesOut,
    dropped_frames: s.droppedFrames,
    stt_errors: s.sttErrors,
    stt_reopens: s.sttReopens,
    end_reason: s.endReason,
    total_latency_ms_max: latencies.length ? Math.max(...latencies) : undefined,
    total_latency_ms_avg: latencies.length ? Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length) : undefined,
  };
}
