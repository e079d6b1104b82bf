// Builders for the frames Twilio sends on a Media Stream (pure; the sender numbers and sends them).
// Whoever plays Twilio builds its frames here: the call simulator, the local edge runner's tests, the
// benchmarks, and the edge's own tests inside workerd, hence the @voice/protocol subpath imports the
// edge itself uses rather than the package index.
import { toBase64 } from "@voice/protocol/crypto";
import {
  FRAME_MS,
  SAMPLE_RATE,
  type ConnectedFrame,
  type DtmfFrame,
  type InboundMediaFrame,
  type MarkFrame,
  type StartFrame,
  type StopFrame,
} from "@voice/protocol/twilio";

export interface StreamIds {
  accountSid: string;
  callSid: string;
  streamSid: string;
}

export function connectedMessage(): ConnectedFrame {
  return { event: "connected", protocol: "Call", version: "1.0.0" };
}

export function startMessage(sequence: number, ids: StreamIds, customParameters: Record<string, string>): StartFrame {
  return {
    event: "start",
    sequenceNumber: String(sequence),
    streamSid: ids.streamSid,
    start: {
      accountSid: ids.accountSid,
      streamSid: ids.streamSid,
      callSid: ids.callSid,
      tracks: ["inbound"],
      customParameters,
      mediaFormat: { encoding: "audio/x-mulaw", sampleRate: SAMPLE_RATE, channels: 1 },
    },
  };
}

/** The caller's audio for 20 ms tick `tick` (0-based): its timestamp is the audio clock, not wall time. */
export function mediaMessage(sequence: number, streamSid: string, tick: number, mulaw: Uint8Array): InboundMediaFrame {
  return {
    event: "media",
    sequenceNumber: String(sequence),
    streamSid,
    media: { track: "inbound", chunk: String(tick + 1), timestamp: String(tick * FRAME_MS), payload: toBase64(mulaw) },
  };
}

/** A key the caller pressed; Twilio names the caller's track "inbound_track" here. */
export function dtmfMessage(sequence: number, streamSid: string, digit: string): DtmfFrame {
  return { event: "dtmf", sequenceNumber: String(sequence), streamSid, dtmf: { track: "inbound_track", digit } };
}

export function markMessage(sequence: number, streamSid: string, name: string): MarkFrame {
  return { event: "mark", sequenceNumber: String(sequence), streamSid, mark: { name } };
}

export function stopMessage(sequence: number, ids: StreamIds): StopFrame {
  return {
    event: "stop",
    sequenceNumber: String(sequence),
    streamSid: ids.streamSid,
    stop: { accountSid: ids.accountSid, callSid: ids.callSid },
  };
}
