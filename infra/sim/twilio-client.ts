// Twilio's side of the call: the signed voice webhook, the Media Streams WebSocket it names, and the
// signed requests of call control (a <Connect action>, a <Dial action>, a <Number url> whisper).
import { randomBytes } from "node:crypto";
import { twilioOutboundFrame, twilioSignature, type TwilioOutboundFrame } from "@voice/protocol";
import { WebSocket, type RawData } from "ws";
import { parseStreamTwiml, parseTwiml, type StreamTwiml, type TwimlVerb } from "./twiml.js";

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
  return parseStreamTwiml(await postSigned(webhookUrl, authToken, params, timeoutMs, "voice webhook"));
}

/** POSTs a TwiML URL the edge gave (an action, a whisper) as Twilio does, and parses the answer into verbs. */
export async function requestTwiml(url: string, authToken: string, params: Record<string, string>, timeoutMs: number, what: string): Promise<TwimlVerb[]> {
  const body = await postSigned(url, authToken, params, timeoutMs, what);
  try {
    return parseTwiml(body);
  } catch (error) {
    throw new Error(`${what} ${url}: ${(error as Error).message}`);
  }
}

async function postSigned(url: string, authToken: string, params: Record<string, string>, timeoutMs: number, what: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": await twilioSignature(authToken, url, params),
      },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new Error(`${what} ${url} failed: ${describe(error)}`);
  }
  const body = await response.text();
  if (!response.ok) throw new Error(`${what} ${url} answered ${response.status}: ${body.slice(0, 200)}`);
  return body;
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

export type EdgeFrameRead = { ok: true; frame: TwilioOutboundFrame } | { ok: false; problem: string };

/** A frame the edge sent on the media stream `streamSid`, read as Twilio reads it: the frame, or what is wrong with it in one line. */
export function readEdgeFrame(data: RawData, isBinary: boolean, streamSid: string): EdgeFrameRead {
  if (isBinary) return { ok: false, problem: "the edge sent a binary frame (Twilio accepts JSON text frames only)" };
  let json: unknown;
  try {
    json = JSON.parse(data.toString());
  } catch {
    return { ok: false, problem: "the edge sent a text frame that is not JSON" };
  }
  const parsed = twilioOutboundFrame.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, problem: `the edge sent a malformed frame: ${issue?.path.join(".") || "frame"}: ${issue?.message}` };
  }
  const frame = parsed.data;
  if (frame.streamSid !== streamSid) return { ok: false, problem: `the edge sent a ${frame.event} frame for another stream (${frame.streamSid})` };
  return { ok: true, frame };
}
