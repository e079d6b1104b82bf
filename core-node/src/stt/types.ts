// Speech-to-text as the call session sees it: one continuous recognition per call that survives
// stream failures and the service's stream duration limit (stream.ts), audio in, results out.

export interface SttResult {
  transcript: string;
  isFinal: boolean;
  /** Where the result ends on the caller's audio clock (ms since the call's audio began), if known. */
  audioEndMs?: number;
}

/** What happened to the recognition, for the call's log and counters. */
export type SttEvent =
  /** A stream failed; a new one opens after `delayMs` (attempt `attempt` of this failure episode). */
  | { type: "retry"; code: string; error: string; attempt: number; delayMs: number }
  /** A stream failed and no retry is left (or none would help): recognition is down until `restart()`. */
  | { type: "down"; code: string; error: string; attempts: number; retryable: boolean }
  /** A stream reopened after failures delivered a result: the failure episode is over. */
  | { type: "recovered"; attempts: number }
  /** A stream was replaced before the service's duration limit; `replayMs` of audio was fed again. */
  | { type: "rotated"; reason: "silence" | "max_age"; streamAudioMs: number; replayMs: number }
  /** A final for audio already covered (by an earlier final, or transcribed elsewhere) was dropped. */
  | { type: "duplicateFinal"; audioEndMs: number; transcript: string }
  /**
   * A response was no usable result (malformed, or ending in audio the stream never received) and
   * was dropped. At most one a second per call; `ignored` counts every one so far.
   */
  | { type: "resultIgnored"; reason: string; ignored: number };

export interface SttStreamHandlers {
  onResult(result: SttResult): void;
  onEvent(event: SttEvent): void;
}

/** ok: streaming; recovering: a failure episode is under way; down: retries exhausted (or pointless). */
export type SttHealth = "ok" | "recovering" | "down";

export interface SttStats {
  /** Streams that failed. */
  errors: number;
  /** New streams opened because one failed (retries), or on `restart()` after an outage. */
  reopens: number;
  /** Streams replaced before the duration limit. */
  rotations: number;
}

export interface SttStream {
  /**
   * Writes one frame of the caller's mu-law audio; `audioMs` is its timestamp on the caller's clock.
   * `utteranceStartMs`: where the utterance in progress started, undefined when there is none (a
   * stream is rotated at such a moment, and a replay need not reach further back).
   */
  write(mulaw: Uint8Array, audioMs: number, utteranceStartMs: number | undefined): void;
  readonly health: SttHealth;
  /**
   * True while a final for audio already sent may still come late: during a failure episode, and
   * for a short while after a new stream was fed the unfinalised audio again.
   */
  expectsLateFinal(): boolean;
  /** Where the current stream's latest result ends on the caller's clock (undefined before its first). */
  readonly lastResultEndMs: number | undefined;
  /** The current stream stopped answering (judged by the caller of this): replace it, as after a failure. */
  reportStall(reason: string): void;
  /** The caller's audio in [fromMs, toMs) on its clock, as far as it is still held (mu-law). */
  audio(fromMs: number, toMs: number): Uint8Array;
  /** Audio up to `audioMs` was transcribed elsewhere: it is never replayed, and finals ending within it are dropped. */
  coverUpTo(audioMs: number): void;
  /** After an outage (health "down"): open a new stream now, starting a new failure episode. */
  restart(): void;
  readonly stats: Readonly<SttStats>;
  close(): void;
}

export interface SpeechToText {
  /** `callId` goes with every request as CALL_ID_HEADER (@voice/protocol). */
  openStream(callId: string, handlers: SttStreamHandlers): SttStream;
  /** One small request, so the first call finds the connection open and the credentials and model proven. */
  warmup(): Promise<void>;
}

/** Transcribes a whole utterance at once (the fallback when streaming recognition is down). */
export interface Transcriber {
  /** `mulaw`: 8 kHz mu-law audio. Resolves with the text (may be empty); rejects on failure or abort. */
  transcribe(mulaw: Uint8Array, options: { callId: string; signal: AbortSignal }): Promise<string>;
}
