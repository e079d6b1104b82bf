// A `start` as a stream of a real call carries it: our webhook's stream token among its custom
// parameters. For tests and benchmarks that open the media stream directly (without the webhook),
// with the local stack's account and secret unless told otherwise. Subpath imports: the edge's own
// tests load this inside workerd.
import { STREAM_TOKEN_PARAMETER, signStreamToken } from "@voice/protocol/stream-token";
import type { StartFrame } from "@voice/protocol/twilio";
import { startMessage, type StreamIds } from "./media-stream-frames.js";

/** The local stack's Twilio account (wrangler.toml's top-level TWILIO_ACCOUNT_SID). */
export const LOCAL_ACCOUNT_SID = "AC00000000000000000000000000000001";

/** Twilio-shaped ids for call `n` of a test (AC/CA/MZ and 32 hex digits), in the local account. */
export function streamIds(n: number, tag = 0): StreamIds {
  const hex = (prefix: number) => (prefix.toString(16).padStart(8, "0") + tag.toString(16).padStart(8, "0") + n.toString(16).padStart(16, "0")).slice(-32);
  return { accountSid: LOCAL_ACCOUNT_SID, callSid: `CA${hex(0xca)}`, streamSid: `MZ${hex(0x3d)}` };
}

/** The stream's `start` with a token for its call signed by `secret` (what the edge's webhook would have minted). */
export async function signedStart(
  ids: StreamIds,
  secret: string,
  options: { sequence?: number; nowMs?: number; customParameters?: Record<string, string> } = {},
): Promise<StartFrame> {
  const token = await signStreamToken(secret, ids, options.nowMs ?? Date.now());
  return startMessage(options.sequence ?? 1, ids, { callSid: ids.callSid, ...options.customParameters, [STREAM_TOKEN_PARAMETER]: token });
}
