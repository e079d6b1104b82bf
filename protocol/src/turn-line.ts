// The core's per-turn, per-barge-in and per-call log lines, as one schema each, so that everything
// that reads them (the deploy GO/NO-GO tool, log-based metrics, tests) agrees with what the core
// writes. A line is one JSON object on stdout in Cloud Logging's structured format.
//
// `severity`, `timestamp` and the labels are optional here: Cloud Logging lifts them out of
// `jsonPayload` into the LogEntry, so a log export has them elsewhere while stdout has them inline.
// Unknown fields are allowed (and dropped by parsing), so adding a field never breaks a reader.
import { z } from "zod";

export const CALL_ID_LABEL = "logging.googleapis.com/labels";

/** Milliseconds, rounded, never negative. */
const ms = z.number().int().nonnegative();
const count = z.number().int().nonnegative();

const envelope = {
  severity: z.string().optional(),
  timestamp: z.string().optional(),
  [CALL_ID_LABEL]: z.object({ call_id: z.string() }).optional(),
  call_id: z.string().min(1),
};

/** The five latency metrics of a turn (ARCHITECTURE.md, Turn metrics and targets), the ones the GO/NO-GO verdict reads. */
export const TURN_METRICS = ["STT_FIRST_PARTIAL_MS", "STT_FINAL_MS", "LLM_FIRST_TOKEN_MS", "TTS_READY_MS", "TOTAL_LATENCY_MS"] as const;
export type TurnMetric = (typeof TURN_METRICS)[number];

/**
 * The TURN line's schema version, in its `schema_version` field. 1: lines without the field (every
 * core before it existed); 2: adds `schema_version`, `timeline` and `agent_text`. A reader judges
 * what a line has; the version tells it what to expect of a line that lacks a field.
 */
export const TURN_SCHEMA_VERSION = 2;

/** Whole milliseconds from the turn's speech end (negative: before it, as a speculative LLM request). */
const offset = z.number().int();

/**
 * A turn's moments on one time axis, in ms from the caller's speech end (keypad: the last key), so a
 * reader can draw the turn as a waterfall. A moment that did not happen is absent.
 */
export const turnTimeline = z.object({
  speech_start: offset,
  first_result: offset.optional(),
  eou: offset,
  stt_final: offset.optional(),
  llm_request: offset.optional(),
  llm_first_token: offset.optional(),
  tts_request: offset.optional(),
  tts_ready: offset.optional(),
  first_frame: offset.optional(),
});
export type TurnTimelineOffsets = z.infer<typeof turnTimeline>;

/**
 * One TURN line per turn. Times about the caller's speech are measured on the caller's audio clock
 * (Twilio media timestamps) mapped to wall time. A metric whose stage did not happen is absent,
 * never faked:
 * - STT_FIRST_PARTIAL_MS, STT_FINAL_MS: absent on a keypad (DTMF) turn, and on a turn answered
 *   with a fixed phrase because recognition failed (no transcript ever came).
 * - LLM_FIRST_TOKEN_MS: absent when no LLM token arrived (fixed-phrase turn, LLM failure, or the
 *   caller interrupted before the first token).
 * - TTS_READY_MS, TOTAL_LATENCY_MS, tts_cache_hit: absent when no answer audio was sent (the caller
 *   interrupted first, or every sentence failed to synthesize).
 * A normal spoken turn has all five metrics.
 */
export const turnLine = z.object({
  message: z.literal("TURN"),
  ...envelope,
  /** TURN_SCHEMA_VERSION of the core that wrote the line; absent: version 1. */
  schema_version: z.number().int().positive().optional(),
  turn: z.number().int().positive(),
  /** How the caller's input came: speech, or keypad digits (DTMF). */
  input: z.enum(["speech", "dtmf"]),
  /** Speech start (VAD) to the first STT result of the utterance. */
  STT_FIRST_PARTIAL_MS: ms.optional(),
  /** Speech end (VAD, before the hangover) to the final transcript, or to the partial used at STT_TIMEOUT_MS. */
  STT_FINAL_MS: ms.optional(),
  /** LLM request sent to its first token. */
  LLM_FIRST_TOKEN_MS: ms.optional(),
  /** TTS request of the first sentence to its audio ready (about 0 on a cache hit). */
  TTS_READY_MS: ms.optional(),
  /** Speech end (or the last key pressed) to the first answer frame sent towards the caller. */
  TOTAL_LATENCY_MS: ms.optional(),
  /** Speech end to the end-of-utterance decision (the hangover, or the keypad entry's end). */
  EOU_MS: ms,
  /**
   * Silence waited past the hangover at the utterance's end because its words could not end it
   * (EOU_HOLD_MAX_MS; included in EOU_MS); 0 when not held. Speech turns only.
   */
  EOU_HOLD_MS: ms.optional(),
  /** Why the end was held: a trailing function word ("and", "של"), a filler ("um"), a number being dictated. */
  eou_hold: z.enum(["function_word", "filler", "number"]).optional(),
  /** Pauses inside the utterance the hold bridged (the caller went on speaking). */
  pauses_held: count.optional(),
  /** The turn continues one taken too early (the caller spoke on before hearing its answer): its words and these are answered as one. */
  recovered_cutoff: z.boolean().optional(),
  /** Where the caller's speech (or first key) started and ended on the caller's audio clock. */
  speech_start_audio_ms: ms,
  speech_end_audio_ms: ms,
  transcript: z.string(),
  transcript_chars: count,
  /** No final came within STT_TIMEOUT_MS after EOU: the latest partial was used. */
  stt_used_partial: z.boolean(),
  /** The first sentence the caller got came from the TTS cache. */
  tts_cache_hit: z.boolean().optional(),
  /** Recognition streams reopened while the utterance was spoken, plus this answer's LLM and TTS retries. */
  retries: count,
  /** Fixed phrases spoken instead of an answer (recognition, LLM or TTS failure). */
  fallbacks: count,
  /** The transcript came from the fallback transcription (Whisper) because recognition was down. */
  stt_fallback: z.boolean(),
  /**
   * The answer was cut (barge-in or hang-up) before all of it was sent. The line is written once the
   * answer's audio is all sent, so a barge-in during the playback that follows is in its BARGE_IN line.
   */
  interrupted: z.boolean(),
  /** Sentences of the answer sent towards the caller. */
  answer_sentences: count,
  /** Sentences skipped because synthesis failed. */
  tts_failures: count,
  /**
   * Speculative answer started on a stable partial before the end of the utterance:
   * "used" — the final transcript matched (normalised) and its prepared tokens/audio were played;
   * "discarded" — it did not match, nothing of it was played, and the answer started over;
   * "none" — no speculation for this turn (keypad, fallback, disabled, or no stable partial in time).
   */
  speculation: z.enum(["used", "discarded", "none"]).optional(),
  /**
   * The tool wait inside TOTAL_LATENCY_MS: time spent on tool rounds before the answer's first audio
   * (a filler or words before the call end it), so TOTAL_LATENCY_MS − TOOL_MS is the stack's own
   * time; each tool's whole time is in `tools`. Absent when the answer called none.
   */
  TOOL_MS: ms.optional(),
  /** The tools the answer called, in order: name, whether it succeeded, its time. */
  tools: z.array(z.object({ name: z.string(), ok: z.boolean(), ms })).optional(),
  /** A filler phrase played while a tool ran ("one moment, checking the calendar"). */
  tool_filler: z.boolean().optional(),
  /** The turn's moments from its speech end (schema 2). */
  timeline: turnTimeline.optional(),
  /** The answer's sentences sent towards the caller, joined; redacted as transcripts are (schema 2). */
  agent_text: z.string().optional(),
});

/**
 * One BARGE_IN line each time the core stops the agent for the caller. `reason`:
 * - "words": the caller's partial transcript has a word that is not a backchannel;
 * - "long_speech": the caller kept talking for BACKCHANNEL_MAX_MS of voiced audio;
 * - "new_turn": the caller's utterance became a turn while an answer was still in progress;
 * - "dtmf": the caller pressed a key;
 * - "resumed": the caller spoke on right after their turn was taken, before hearing its answer: the
 *   answer is taken back (no TURN line) and the turn's words continue in the next utterance.
 */
export const bargeInLine = z.object({
  message: z.literal("BARGE_IN"),
  ...envelope,
  /** The answer interrupted (0: the greeting). */
  turn: z.number().int().nonnegative(),
  reason: z.enum(["words", "long_speech", "new_turn", "dtmf", "resumed"]),
  /** Sentences of the interrupted answer the caller heard in full (their marks came back). */
  heard_sentences: count,
  /** Voiced caller audio in the utterance when the decision was made. */
  voiced_ms: ms,
  /** The caller's audio clock when the decision was made. */
  audio_ms: ms,
  /** Start of the caller's utterance on the audio clock (absent for a key press). */
  speech_start_audio_ms: ms.optional(),
  /** Wall time from the deciding frame, transcript or key to `clear` sent (fractional ms). */
  detect_to_clear_ms: z.number().nonnegative(),
  /** The caller's words so far (may be empty). */
  transcript: z.string(),
});

/** One CALL line when a call ends. */
export const callLine = z.object({
  message: z.literal("CALL"),
  ...envelope,
  duration_ms: ms,
  turns: count,
  /** Turns formed from keypad digits (included in `turns`). */
  dtmf_turns: count,
  barge_ins: count,
  /** Utterances that were only backchannel words while the agent spoke (not turns). */
  backchannels: count,
  /** Turns taken too early and taken back because the caller spoke on (BARGE_IN reason "resumed"). */
  recovered_cutoffs: count.optional(),
  /** Recognition streams reopened after a failure, plus LLM and TTS retries. */
  retries: count,
  fallbacks: count,
  /** Tool calls made, and those that failed (an error or a timeout). */
  tool_calls: count.optional(),
  tool_failures: count.optional(),
  /** Recognition streams replaced before the duration limit. */
  stt_rotations: count,
  /** Sentences (greeting included) whose audio came from the TTS cache, and those synthesized. */
  cache_hits: count,
  tts_syntheses: count,
  frames_in: count,
  frames_out: count,
  dropped_frames: count,
  stt_errors: count,
  stt_reopens: count,
  end_reason: z.string(),
  total_latency_ms_max: ms.optional(),
  total_latency_ms_avg: ms.optional(),
});

export type TurnLine = z.infer<typeof turnLine>;
export type BargeInLine = z.infer<typeof bargeInLine>;
export type CallLine = z.infer<typeof callLine>;

/** What the core puts in a line itself; the logger adds `message`, `severity` and `timestamp`. */
export type TurnLineFields = Omit<TurnLine, "message" | "severity" | "timestamp">;
export type BargeInLineFields = Omit<BargeInLine, "message" | "severity" | "timestamp">;
/** A TURN line's `speculation`: what became of the answers prepared on the turn's partials. */
export type SpeculationOutcome = NonNullable<TurnLineFields["speculation"]>;
export type CallLineFields = Omit<CallLine, "message" | "severity" | "timestamp">;
