// A call's counters, summed up in its one CALL line when it ends.
import type { CallLineFields } from "@voice/protocol";
import { buildCallLine } from "../metrics/turn.js";
import type { SttStats } from "../stt/types.js";

export class CallStats {
  /** LLM and TTS requests retried (recognition retries are the STT stream's own count). */
  retries = 0;
  framesIn = 0;
  framesOut = 0;
  droppedFrames = 0;
  bargeIns = 0;
  backchannels = 0;
  dtmfTurns = 0;
  fallbacks = 0;
  cacheHits = 0;
  ttsSyntheses = 0;
  readonly totalLatenciesMs: number[] = [];

  /** `stt`: the call's recognition stream's counters (none when the call never started). */
  callLine(call: { callId: string; durationMs: number; turns: number; stt: Readonly<SttStats> | undefined; endReason: string }): CallLineFields {
    const stt = call.stt ?? { errors: 0, reopens: 0, rotations: 0 };
    return buildCallLine({
      callId: call.callId,
      durationMs: call.durationMs,
      turns: call.turns,
      dtmfTurns: this.dtmfTurns,
      bargeIns: this.bargeIns,
      backchannels: this.backchannels,
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
    });
  }
}
