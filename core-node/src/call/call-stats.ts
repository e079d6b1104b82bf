// A call's counters, summed up in its one CALL line when it ends.
import type { CallLineFields } from "@voice/protocol";
import { buildCallLine } from "../metrics/turn.js";
import type { SttStats } from "../stt/types.js";

/**
 * Every CALL line's end_reason (log-based metrics label by it, see infra/observability):
 *   stop           Twilio's `stop`: the caller hung up (or the call was ended)
 *   moved          the core drained and handed the call to another core
 *   socket closed  the link closed without a `stop`
 *   socket error   the link failed
 *   call mismatch  the start frame named another call than the token
 *   flood          media ahead of real time past MAX_AUDIO_BACKLOG_MS, or other frames over
 *                  MAX_FRAMES_PER_SECOND, dropped for FLOOD_CLOSE_AFTER_S seconds: closed 1008
 *   frame too big  a frame over MAX_FRAME_BYTES: closed 1009
 *   time limit     MAX_CALL_MS reached: CALL_LIMIT_TEXT said, closed 1000
 *   budget         LLM_MAX_REQUESTS_PER_CALL or TTS_MAX_CHARS_PER_CALL spent: CALL_LIMIT_TEXT said, closed 1000
 *   agent          the agent ended the call (end_call) after its farewell: core.end "agent", closed 1000
 *   transfer       the agent put the caller through to the staff (transfer_to_staff) after the announcement: core.end "transfer", closed 1000
 *   idle           the caller stayed silent through IDLE_MAX_REPROMPTS reprompts: the goodbye, core.end "idle", closed 1000
 */
export const CALL_END_REASONS = [
  "stop",
  "moved",
  "socket closed",
  "socket error",
  "call mismatch",
  "flood",
  "frame too big",
  "time limit",
  "budget",
  "agent",
  "transfer",
  "idle",
] as const;
export type CallEndReason = (typeof CALL_END_REASONS)[number];

export class CallStats {
  /** LLM and TTS requests retried (recognition retries are the STT stream's own count). */
  retries = 0;
  framesIn = 0;
  framesOut = 0;
  droppedFrames = 0;
  bargeIns = 0;
  backchannels = 0;
  /** Turns taken too early and taken back (the caller spoke on before hearing the answer). */
  recoveredCutoffs = 0;
  dtmfTurns = 0;
  fallbacks = 0;
  cacheHits = 0;
  ttsSyntheses = 0;
  toolCalls = 0;
  toolFailures = 0;
  readonly totalLatenciesMs: number[] = [];

  /** `stt`: the call's recognition stream's counters (none when the call never started). */
  callLine(call: { callId: string; durationMs: number; turns: number; stt: Readonly<SttStats> | undefined; endReason: CallEndReason }): CallLineFields {
    const stt = call.stt ?? { errors: 0, reopens: 0, rotations: 0 };
    return buildCallLine({
      callId: call.callId,
      durationMs: call.durationMs,
      turns: call.turns,
      dtmfTurns: this.dtmfTurns,
      bargeIns: this.bargeIns,
      backchannels: this.backchannels,
      recoveredCutoffs: this.recoveredCutoffs,
      retries: stt.reopens + this.retries,
      fallbacks: this.fallbacks,
      cacheHits: this.cacheHits,
      ttsSyntheses: this.ttsSyntheses,
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      droppedFrames: this.droppedFrames,
      sttErrors: stt.errors,
      sttReopens: stt.reopens,
      sttRotations: stt.rotations,
      endReason: call.endReason,
      totalLatenciesMs: this.totalLatenciesMs,
      toolCalls: this.toolCalls,
      toolFailures: this.toolFailures,
    });
  }
}
