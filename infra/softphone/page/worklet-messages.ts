// What the page's main thread and its audio worklet (phone-worklet.ts) tell each other over the
// worklet's port.
import type { MarkEcho } from "./playback.js";

export const PHONE_PROCESSOR = "softphone-phone";

export type WorkletCommand =
  /** The agent's mu-law, to queue for playback. */
  | { type: "audio"; bytes: Uint8Array }
  | { type: "mark"; name: string }
  | { type: "clear" }
  | { type: "mute"; muted: boolean };

export interface PlaybackState {
  queuedMs: number;
  playing: boolean;
  clears: number;
  /** Microphone frames sent unmuted at speech level, as ms. */
  voicedMs: number;
  /** The caller's audio clock: ms of microphone audio taken. */
  clockMs: number;
}

export type WorkletEvent =
  /** A 20 ms mu-law frame of the microphone (silence on mute), in order. */
  | { type: "frame"; frame: Uint8Array }
  /** Marks the playback reached or a clear dropped; `startedAtMs`: when the audio before each began, on the caller's audio clock. */
  | { type: "echoes"; echoes: (Omit<MarkEcho, "startedAt"> & { startedAtMs: number | null })[] }
  /** Answer audio began to play, its mark already known: when, on the caller's audio clock. */
  | { type: "starts"; starts: { name: string; startedAtMs: number }[] }
  | { type: "state"; state: PlaybackState };
