// Test support: a tiny stand-in for our edge that the simulator calls. It checks Twilio's signatures,
// answers TwiML, validates every frame it receives against the protocol schemas, greets, and answers
// each caller utterance (found by energy on the audio clock) and each run of keys with a tone and
// sentence/end marks; optionally it clears an answer the caller speaks over, as a barge-in. With
// `control` it plays our edge's call control: the <Connect> carries an action, it may end the caller's
// stream (as on core.end), and the test's TwiML answers the stream-ended, dial-ended and whisper routes.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import {
  FRAME_BYTES,
  SAMPLE_RATE,
  mulawToPcm,
  pcmToMulaw,
  toBase64,
  twilioInboundFrame,
  verifyTwilioSignature,
  type TwilioInboundFrame,
} from "@voice/protocol";
import { WebSocketServer, type WebSocket } from "ws";

export interface FakeEdgeOptions {
  authToken: string;
  /** Greeting length in 20 ms frames (default 25). */
  greetingFrames?: number;
  /** Answer length in 20 ms frames (default 15). */
  answerFrames?: number;
  /** Sends `clear` once this many caller frames arrived after an answer was sent. */
  clearAfterFrames?: number;
  /** Sends `clear` when an utterance reaches this many speech frames while an answer is playing (its end mark not echoed). */
  bargeInFrames?: number;
  /** Speech frames an utterance needs to be answered (default 5). */
  minUtteranceFrames?: number;
  /** Right after `start`, sends frames Twilio would reject (binary, not JSON, malformed). */
  sendJunk?: boolean;
  /** Greets but never answers. */
  mute?: boolean;
  control?: FakeCallControl;
}

/** What a call-control route is asked: the signed form fields, and the count of earlier requests to it. */
export interface ControlRequest {
  path: string;
  params: Record<string, string>;
  /** 0 for the route's first request. */
  n: number;
  at: number;
}

export interface FakeCallControl {
  /** The TwiML answering POST /twilio/stream-ended (the <Connect action>). */
  streamEnded(request: ControlRequest, edge: FakeEdgeUrls): string;
  /** The TwiML answering POST /twilio/dial-ended (a <Dial action>); default <Hangup/>. */
  dialEnded?(request: ControlRequest, edge: FakeEdgeUrls): string;
  /** The TwiML answering POST /twilio/whisper (a <Number url>); default a <Say>. */
  whisper?: string;
  /** Per stream in order: close the caller's stream once this many of its answers were heard (end marks echoed). */
  endStreamAfterAnswers?: (number | undefined)[];
  /** Close the first stream after this many caller media frames. */
  endStreamAfterFrames?: number;
  /** Wait this long before answering /twilio/stream-ended. */
  answerDelayMs?: number;
}

/** The fake edge's URLs, for the TwiML a test writes. */
export interface FakeEdgeUrls {
  url: string;
  /** <Connect action=".../twilio/stream-ended"><Stream> as the webhook answers it, with the same parameters and a fresh token. */
  connectTwiml(): string;
}

export const CONTROL_PATHS = ["/twilio/stream-ended", "/twilio/dial-ended", "/twilio/whisper"] as const;

export interface FakeEdge {
  url: string;
  webhookParams: Record<string, string>[];
  /** Signature checks that failed. */
  rejections: string[];
  /** Every valid frame received, with its arrival time (performance.now()). */
  frames: Array<{ frame: TwilioInboundFrame; at: number }>;
  /** Schema failures of frames received. */
  invalidFrames: string[];
  /** Marks sent, with the ms of audio sent just before them and when. */
  sentMarks: Array<{ name: string; audioMsBefore: number; at: number }>;
  clearedAt: number[];
  /** Barge-in clears, with the caller audio received when each was sent (the end of the frame that triggered it). */
  bargeIns: Array<{ audioMs: number; at: number }>;
  /** Resolves when the first media stream has closed. */
  streamClosed: Promise<void>;
  /** Call-control requests, in order. */
  controlRequests: ControlRequest[];
  /** The streams opened, in order: their streamSid and custom parameters. */
  streams: Array<{ streamSid: string; parameters: Record<string, string> }>;
  /** When the edge closed a caller's stream (performance.now()), per stream it closed. */
  streamsEnded: number[];
  close(): Promise<void>;
}

/** Mean amplitude above which a caller frame counts as speech; eSpeak's gaps between words fall below. */
const SPEECH_RMS = 250;
/** Speech frames an utterance needs, and silent frames that end it (or a run of keys). */
const MIN_SPEECH_FRAMES = 5;
const HANGOVER_FRAMES = 15;

export async function startFakeEdge(options: FakeEdgeOptions): Promise<FakeEdge> {
  const greetingFrames = options.greetingFrames ?? 25;
  const answerFrames = options.answerFrames ?? 15;
  const minUtteranceFrames = options.minUtteranceFrames ?? MIN_SPEECH_FRAMES;
  let closeStream!: () => void;
  const edge: Omit<FakeEdge, "url" | "close"> = {
    webhookParams: [],
    rejections: [],
    frames: [],
    invalidFrames: [],
    sentMarks: [],
    clearedAt: [],
    bargeIns: [],
    streamClosed: new Promise((resolve) => (closeStream = resolve)),
    controlRequests: [],
    streams: [],
    streamsEnded: [],
  };
  const control = options.control;
  let lastWebhook: Record<string, string> = {};
  let tokens = 0;
  const connectTwiml = () => {
    const parameters =
      `<Parameter name="callSid" value="${lastWebhook.CallSid}"/><Parameter name="from" value="${lastWebhook.From}"/>` +
      `<Parameter name="note" value="fish &amp; chips"/><Parameter name="token" value="t${++tokens}"/>`;
    const action = control ? ` action="${base}/twilio/stream-ended"` : "";
    return `<?xml version="1.0" encoding="UTF-8"?><Response><Connect${action}><Stream url="${wsBase}/twilio/media">${parameters}</Stream></Connect></Response>`;
  };
  const urls: FakeEdgeUrls = { get url() { return base; }, connectTwiml };
  const answerControl = (path: string, params: Record<string, string>): string => {
    const request = { path, params, n: edge.controlRequests.filter((r) => r.path === path).length, at: performance.now() };
    edge.controlRequests.push(request);
    if (path === "/twilio/stream-ended") return control!.streamEnded(request, urls);
    if (path === "/twilio/dial-ended") return control!.dialEnded?.(request, urls) ?? "<Response><Hangup/></Response>";
    return control!.whisper ?? '<Response><Say language="he-IL">a caller asks for you</Say></Response>';
  };
  const server = createServer(async (req, res) => {
    const params = Object.fromEntries(new URLSearchParams(await readBody(req)));
    const path = req.url ?? "";
    const known = path === "/twilio/voice" || (control !== undefined && (CONTROL_PATHS as readonly string[]).includes(path));
    const signed = await verifyTwilioSignature(options.authToken, header(req, "x-twilio-signature"), `${base}${path}`, params);
    if (req.method !== "POST" || !known || !signed) {
      edge.rejections.push(`webhook ${req.method} ${req.url} signed=${signed}`);
      res.writeHead(403).end("forbidden");
      return;
    }
    res.setHeader("content-type", "text/xml");
    if (path === "/twilio/voice") {
      edge.webhookParams.push(params);
      lastWebhook = params;
      return void res.writeHead(200).end(connectTwiml());
    }
    if (path === "/twilio/stream-ended" && control?.answerDelayMs) await new Promise((resolve) => setTimeout(resolve, control.answerDelayMs));
    res.writeHead(200).end(answerControl(path, params));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", async (req, socket, head) => {
    const streamUrl = `${wsBase}${req.url}`;
    if (!(await verifyTwilioSignature(options.authToken, header(req, "x-twilio-signature"), streamUrl, {}))) {
      edge.rejections.push(`upgrade ${req.url}`);
      socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveStream(ws));
  });

  function serveStream(ws: WebSocket): void {
    const streamIndex = edge.streams.length;
    let streamSid = "";
    let turn = 0;
    let answersHeard = 0;
    let mediaFrames = 0;
    const endStream = () => {
      edge.streamsEnded.push(performance.now());
      ws.close(1000, "call ended");
    };
    let speechFrames = 0;
    let silentFrames = 0;
    let framesSinceAnswer: number | null = null;
    let keys = "";
    let framesSinceKey = 0;
    /** End marks of answers sent and not yet echoed: those answers are still playing. */
    const playing = new Set<string>();
    const send = (frame: object) => ws.send(JSON.stringify(frame));
    const answer = (text: string) => {
      turn++;
      sendBurst(answerFrames, 660, [`${turn}.0:${text}`, `${turn}.end`]);
      playing.add(`${turn}.end`);
      framesSinceAnswer = 0;
    };
    const sendBurst = (frames: number, hz: number, marks: string[]) => {
      for (const payload of tone(frames, hz)) send({ event: "media", streamSid, media: { payload } });
      const at = performance.now();
      for (const name of marks) {
        send({ event: "mark", streamSid, mark: { name } });
        edge.sentMarks.push({ name, audioMsBefore: frames * 20, at });
      }
    };

    ws.on("close", () => closeStream());
    ws.on("message", (data, isBinary) => {
      const at = performance.now();
      const parsed = isBinary ? null : twilioInboundFrame.safeParse(parseJson(data.toString()));
      if (!parsed?.success) {
        edge.invalidFrames.push(parsed ? parsed.error.message : "binary frame");
        return;
      }
      const frame = parsed.data;
      edge.frames.push({ frame, at });
      if (frame.event === "start") {
        streamSid = frame.streamSid;
        edge.streams.push({ streamSid, parameters: frame.start.customParameters });
        if (options.sendJunk) {
          ws.send(Buffer.from([1, 2, 3]));
          ws.send("not json");
          send({ event: "media", streamSid });
        }
        // Back from a transfer, the agent speaks first: an answer of its own rather than the greeting.
        sendBurst(greetingFrames, 440, streamIndex === 0 ? ["greeting"] : ["0.0:welcome back", "0.end"]);
      } else if (frame.event === "mark") {
        playing.delete(frame.mark.name);
        if (/^[1-9]\d*\.end$/.test(frame.mark.name) && ++answersHeard === control?.endStreamAfterAnswers?.[streamIndex]) endStream();
      } else if (frame.event === "dtmf") {
        keys += frame.dtmf.digit;
        framesSinceKey = 0;
      } else if (frame.event === "media") {
        if (streamIndex === 0 && ++mediaFrames === control?.endStreamAfterFrames) endStream();
        if (framesSinceAnswer !== null && ++framesSinceAnswer === options.clearAfterFrames) {
          send({ event: "clear", streamSid });
          edge.clearedAt.push(performance.now());
        }
        if (keys && ++framesSinceKey >= HANGOVER_FRAMES) {
          if (!options.mute) answer(`keys ${keys}`);
          keys = "";
        }
        if (rms(Buffer.from(frame.media.payload, "base64")) > SPEECH_RMS) {
          speechFrames++;
          silentFrames = 0;
          if (speechFrames === options.bargeInFrames && playing.size > 0) {
            send({ event: "clear", streamSid });
            playing.clear();
            edge.bargeIns.push({ audioMs: Number(frame.media.timestamp) + 20, at: performance.now() });
          }
        } else if (speechFrames > 0 && ++silentFrames >= HANGOVER_FRAMES) {
          const utterance = speechFrames >= minUtteranceFrames;
          speechFrames = silentFrames = 0;
          if (utterance && !options.mute) answer(`answer ${turn + 1}`);
        }
      }
    });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const wsBase = `ws://127.0.0.1:${port}`;
  return {
    ...edge,
    url: base,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of req) body += chunk;
  return body;
}

function tone(frames: number, hz: number): string[] {
  const pcm = new Int16Array(frames * FRAME_BYTES);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE));
  const mulaw = pcmToMulaw(pcm);
  return Array.from({ length: frames }, (_, f) => toBase64(mulaw.subarray(f * FRAME_BYTES, (f + 1) * FRAME_BYTES)));
}

function rms(mulaw: Uint8Array): number {
  const pcm = mulawToPcm(mulaw);
  let sum = 0;
  for (const sample of pcm) sum += sample * sample;
  return Math.sqrt(sum / pcm.length);
}
