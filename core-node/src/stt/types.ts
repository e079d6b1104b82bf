// Speech-to-text as the call session sees it: one continuous stream per call, audio in, results out.

export interface SttResult {
  transcript: string;
  isFinal: boolean;
  /** Where the result ends on the caller's audio clock (ms since the call's audio began), if known. */
  audioEndMs?: number;
}

export interface SttStreamHandlers {
  onResult(result: SttResult): void;
  /** The current recognition stream failed; the next audio opens a new one. */
  onError(error: Error): void;
}

export interface SttStream {
  /** Writes one frame of the caller's mu-law audio; `audioMs` is its timestamp on the caller's clock. */
  write(mulaw: Uint8Array, audioMs: number): void;
  /** Streams opened again after a failure, over the life of this call. */
  readonly reopenCount: number;
  close(): void;
}

export interface SpeechToText {
  openStream(handlers: SttStreamHandlers): SttStream;
  /** Opens the connection to the service so the first call does not pay for it. */
  warmup(): Promise<void>;
}
