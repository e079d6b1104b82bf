// Twilio's side of call setup: the signed voice webhook, then the Media Streams WebSocket it names.
import { randomBytes } from "node:crypto";
import { twilioSignature } from "@voice/protocol";
import { WebSocket } from "ws";
import { parseStreamTwiml, type StreamTwiml } from "./twiml.js";

/** A Twilio SID: two-letter type prefix and 32 hex digits (CA call, AC account, MZ stream). */
export function newSid(prefix: "CA" | "AC" | "MZ"): string {
  return prefix + randomBytes(16).toString("hex");
}

/** POSTs the voice webhook as Twilio does (form-encoded, X-Twilio-Signature) and parses the TwiML. */
export async function requestStreamTwiml(
  edgeUrl: string,
  authToken: string,
  params: Record<string, string>,
  timeoutMs: number,
): Promise<StreamTwiml> {
  const webhookUrl = `${edgeUrl.replace(/\/+$/, "")}/twilio/voice`;
  let response: Response;
  try {
    response = await fetch(webhookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": await twilioSignature(authToken, webhookUrl, params),
      },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new Error(`voice webhook ${webhookUrl} failed: ${describe(error)}`);
  }
  const body = await response.text();
  if (!response.ok) throw new Error(`voice webhook ${webhookUrl} answered ${response.status}: ${body.slice(0, 200)}`);
  return parseStreamTwiml(body);
}

/** Opens the Media Stream with the signature Twilio puts on the upgrade (over the URL, no params). */
export async function openMediaStream(streamUrl: string, authToken: string, timeoutMs: number): Promise<WebSocket> {
  const socket = new WebSocket(streamUrl, {
    headers: { "x-twilio-signature": await twilioSignature(authToken, streamUrl, {}) },
    handshakeTimeout: timeoutMs,
  });
  return new Promise((resolve, reject) => {
    socket.once("open", () => {
      socket.off("error", onError);
      resolve(socket);
    });
    const onError = (error: Error) => reject(new Error(`media stream ${streamUrl} failed to open: ${error.message}`));
    socket.once("error", onError);
  });
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { message?: string } }).cause?.message;
  return cause ? `${(error as Error).message} (${cause})` : String((error as Error).message ?? error);
}
