// Twilio Media Streams frames, as Twilio sends and accepts them (JSON text frames).
// Inbound = Twilio -> us; outbound = us -> Twilio. Audio is base64 8 kHz mu-law, 20 ms per frame.
// Each direction as one schema (the union of these frames) is in link-frames.ts.
// zod/mini, imported as a namespace: a bundle then keeps only the parts used (`import { z }` keeps them all).
import * as z from "zod/mini";
import "./zod-english.js";

/** Bytes of mu-law audio in one 20 ms frame at 8 kHz. */
export const FRAME_BYTES = 160;
export const FRAME_MS = 20;
export const SAMPLE_RATE = 8000;
/** The mu-law byte for silence (linear 0). */
export const MULAW_SILENCE = 0xff;

/** Cuts mu-law audio into 20 ms frames, the last one padded with silence (Twilio plays whole frames). */
export function splitFrames(mulaw: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let at = 0; at < mulaw.length; at += FRAME_BYTES) {
    const frame = mulaw.subarray(at, at + FRAME_BYTES);
    if (frame.length === FRAME_BYTES) {
      frames.push(frame);
    } else {
      const padded = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
      padded.set(frame);
      frames.push(padded);
    }
  }
  return frames;
}

const numericString = z.string().check(z.regex(/^\d+$/, "expected a decimal string"));
const nonEmpty = z.string().check(z.minLength(1));

export const connectedFrame = z.object({
  event: z.literal("connected"),
  protocol: z.string(),
  version: z.string(),
});

export const startFrame = z.object({
  event: z.literal("start"),
  sequenceNumber: numericString,
  streamSid: nonEmpty,
  start: z.object({
    accountSid: z.string(),
    streamSid: nonEmpty,
    callSid: nonEmpty,
    tracks: z.array(z.string()),
    customParameters: z._default(z.record(z.string(), z.string()), {}),
    mediaFormat: z.object({
      encoding: z.literal("audio/x-mulaw"),
      sampleRate: z.literal(SAMPLE_RATE),
      channels: z.literal(1),
    }),
  }),
});

export const inboundMediaFrame = z.object({
  event: z.literal("media"),
  sequenceNumber: numericString,
  streamSid: nonEmpty,
  media: z.object({
    track: z.string(),
    chunk: numericString,
    /** Milliseconds of audio since the stream started: the caller's audio clock. */
    timestamp: numericString,
    payload: z.string().check(z.minLength(1), z.regex(/^[A-Za-z0-9+/]+={0,2}$/, "payload is not base64")),
  }),
});

export const markFrame = z.object({
  event: z.literal("mark"),
  sequenceNumber: z.optional(numericString),
  streamSid: nonEmpty,
  mark: z.object({ name: z.string() }),
});

export const dtmfFrame = z.object({
  event: z.literal("dtmf"),
  sequenceNumber: numericString,
  streamSid: nonEmpty,
  dtmf: z.object({ track: z.string(), digit: z.string().check(z.regex(/^[0-9*#A-D]$/)) }),
});

export const stopFrame = z.object({
  event: z.literal("stop"),
  sequenceNumber: numericString,
  streamSid: nonEmpty,
  stop: z.object({ accountSid: z.string(), callSid: z.string() }),
});

export const outboundMediaFrame = z.object({
  event: z.literal("media"),
  streamSid: nonEmpty,
  media: z.object({ payload: nonEmpty }),
});

export const clearFrame = z.object({
  event: z.literal("clear"),
  streamSid: nonEmpty,
});

export type ConnectedFrame = z.infer<typeof connectedFrame>;
export type StartFrame = z.infer<typeof startFrame>;
export type InboundMediaFrame = z.infer<typeof inboundMediaFrame>;
export type MarkFrame = z.infer<typeof markFrame>;
export type DtmfFrame = z.infer<typeof dtmfFrame>;
export type StopFrame = z.infer<typeof stopFrame>;
export type OutboundMediaFrame = z.infer<typeof outboundMediaFrame>;
export type ClearFrame = z.infer<typeof clearFrame>;
