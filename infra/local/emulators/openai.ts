// OpenAI-compatible HTTP emulator (node:http) for the real `openai` SDK: chat completions, streamed as
// SSE chunks in OpenAI's exact shape or answered whole, audio transcriptions, and the model list.
// Answers come from chat-tools.ts when tools are in play (a request offering tools, or one whose last
// message is a tool's result: see there for the tool message content the core sends) and otherwise
// from chat-answers.ts, paced by time-to-first-token and a token interval; the wire shapes, tool calls
// included, are in chat-wire.ts. Faults (OpenAI's 429/500/503, a stream cut mid-way, stalls, a 200
// whose stream is malformed: chat-faults.ts) are set per test with injectChatFault and
// injectTranscriptionFault.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseWav } from "@voice/protocol";
import { serveChatCompletion, type CallToolStats, type CompletionTimeline } from "./chat-completion.js";
import { faultError, type ChatFault, type TranscriptionFault } from "./chat-faults.js";
import { parseChatRequest, type ChatMessage } from "./chat-wire.js";
import { FaultSchedule, type FaultWhen, type ScheduledFault } from "./faults.js";
import { callIdOf, HttpError, parseJsonBody, readBody, sendError, sendJson } from "./http-kit.js";

export {
  HUGE_ANSWER_CHARS,
  type ChatFault,
  type HttpFault,
  type MalformedChatFault,
  type MalformedChatShape,
  type TranscriptionFault,
} from "./chat-faults.js";
export type { ChatMessage, EmittedToolCall } from "./chat-wire.js";
export type { CallToolStats, CompletionTimeline } from "./chat-completion.js";

export interface OpenAiEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Delay from request to first token (default 200). */
  firstTokenMs?: number;
  /** Delay between tokens (default 30). */
  tokenIntervalMs?: number;
  /** What /v1/audio/transcriptions hears in any audio (default "שלום"), unless transcriptFor knows better. */
  transcriptionText?: string;
  /**
   * What a transcription request carrying the x-call-id header heard: the speech emulator's pending
   * script line for that call, which the request takes (startEmulators wires this). Undefined: the
   * call is unknown, so transcriptionText is the answer. The same audio sent again for the same call
   * (the SDK's own retry) gets the same text without taking another line.
   */
  transcriptFor?: (callId: string) => string | undefined;
  /** Faults from the start, as injectChatFault / injectTranscriptionFault add them. */
  chatFaults?: ScheduledFault<ChatFault>[];
  transcriptionFaults?: ScheduledFault<TranscriptionFault>[];
  /** Ids GET /v1/models lists (default gpt-4o-mini, whisper-1); chat accepts any model. */
  models?: string[];
  /** How long an idle keep-alive connection stays open (default 65000, as API front ends keep them
   *  a minute or more; Node's own default of 5 s would hide a client that lets them go). */
  keepAliveMs?: number;
  log?: (line: string) => void;
}

export interface OpenAiEmulatorStats {
  /** Chat completion requests received (valid or not). */
  requests: number;
  /** Chat completions answered to the end. */
  completed: number;
  /** Chat completions the client abandoned before the end (aborted stream or closed socket). */
  cancelled: number;
  transcriptions: number;
  /** Chat completions and transcriptions given a fault. */
  chatFaults: number;
  transcriptionFaults: number;
  /** The messages of the last valid chat completion request, as sent. */
  lastMessages: ChatMessage[];
  /** Valid chat completions in arrival order (the latest MAX_COMPLETIONS_KEPT). */
  completions: CompletionTimeline[];
  /** TCP connections accepted: each one a handshake the client paid. */
  connections: number;
  /** GET /v1/models requests (what a client sends to open or keep a connection warm). */
  modelLists: number;
  /** Per call id (x-call-id), for calls whose requests offered tools or got a tool call (the latest
   *  MAX_CALLS_KEPT): what was offered and what was called. */
  tools: Map<string, CallToolStats>;
}

export interface OpenAiEmulator {
  port: number;
  /** "http://127.0.0.1:<port>". */
  address: string;
  /** address + "/v1": OPENAI_BASE_URL, the SDK's baseURL. */
  baseURL: string;
  stats: OpenAiEmulatorStats;
  /** Gives `fault` to the (valid) chat completion requests `when` picks, counted from now on (default:
   *  the next one). A `when.callId` matches requests with that x-call-id header. */
  injectChatFault(fault: ChatFault, when?: FaultWhen): void;
  /** The same for /v1/audio/transcriptions. */
  injectTranscriptionFault(fault: TranscriptionFault, when?: FaultWhen): void;
  /** Drops every fault not yet given to a request (a stalled request stays stalled). */
  clearFaults(): void;
  close(): Promise<void>;
}

/** Bounds the per-call transcription memory, so a long-running `npm start` does not grow without end. */
const MAX_CALLS_KEPT = 1000;

/** OpenAI's upload limit for transcriptions, also our body limit. */
const MAX_BODY_BYTES = 25 * 1024 * 1024;

export async function startOpenAiEmulator(options: OpenAiEmulatorOptions = {}): Promise<OpenAiEmulator> {
  const settings = {
    firstTokenMs: options.firstTokenMs ?? 200,
    tokenIntervalMs: options.tokenIntervalMs ?? 30,
    transcriptionText: options.transcriptionText ?? "שלום",
    models: options.models ?? ["gpt-4o-mini", "whisper-1"],
  };
  const log = options.log ?? ((line: string) => console.error(`[openai-emulator] ${line}`));
  const stats: OpenAiEmulatorStats = {
    requests: 0,
    completed: 0,
    cancelled: 0,
    transcriptions: 0,
    chatFaults: 0,
    transcriptionFaults: 0,
    lastMessages: [],
    completions: [],
    connections: 0,
    modelLists: 0,
    tools: new Map(),
  };
  const chatFaults = new FaultSchedule(options.chatFaults);
  const transcriptionFaults = new FaultSchedule(options.transcriptionFaults);
  /** Per call, the last transcription's audio digest and text, so a retry of it is answered alike. */
  const heard = new Map<string, { digest: string; text: string }>();

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const arrivedAt = performance.now();
    const path = new URL(req.url ?? "/", "http://emulator").pathname;
    const endpoint = `${req.method} ${path}`;
    if (endpoint === "POST /v1/chat/completions") stats.requests++;
    if (!req.headers.authorization?.startsWith("Bearer ")) {
      throw new HttpError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.");
    }
    switch (endpoint) {
      case "POST /v1/chat/completions":
        return serveChatCompletion(parseChatRequest(parseJsonBody(await readBody(req, MAX_BODY_BYTES))), callIdOf(req), res, arrivedAt, { settings, stats, chatFaults });
      case "POST /v1/audio/transcriptions":
        return transcription(req, res);
      case "GET /v1/models":
        stats.modelLists++;
        return sendJson(res, 200, {
          object: "list",
          data: settings.models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "system" })),
        });
      default:
        throw new HttpError(404, `Invalid URL (${endpoint})`);
    }
  };

  /** What the audio says: the call's pending script line when the speech emulator knows the call. */
  const transcriptOf = (callId: string | undefined, audio: Uint8Array): string => {
    if (callId === undefined || !options.transcriptFor) return settings.transcriptionText;
    const digest = createHash("sha256").update(audio).digest("hex");
    const last = heard.get(callId);
    if (last?.digest === digest) return last.text;
    const text = options.transcriptFor(callId);
    if (text === undefined) return settings.transcriptionText;
    heard.delete(callId);
    heard.set(callId, { digest, text });
    if (heard.size > MAX_CALLS_KEPT) heard.delete(heard.keys().next().value!);
    return text;
  };

  const transcription = async (req: IncomingMessage, res: ServerResponse) => {
    const type = req.headers["content-type"] ?? "";
    if (!type.startsWith("multipart/form-data")) throw new HttpError(400, "Expected a multipart/form-data body");
    const form = await new Response(await readBody(req, MAX_BODY_BYTES), { headers: { "content-type": type } }).formData().catch(() => {
      throw new HttpError(400, "Could not parse multipart form");
    });
    const file = form.get("file");
    if (!(file instanceof Blob)) throw new HttpError(400, "you must provide a file", "missing_required_parameter");
    if (!form.get("model")) throw new HttpError(400, "you must provide a model parameter", "missing_required_parameter");
    const audio = new Uint8Array(await file.arrayBuffer());
    try {
      parseWav(audio);
    } catch {
      throw new HttpError(400, "Invalid file format. The emulator accepts WAV (RIFF/WAVE) audio.", "invalid_value");
    }
    const format = form.get("response_format") ?? "json";
    if (format !== "text" && format !== "json") {
      throw new HttpError(400, `response_format '${String(format)}' is not supported by the emulator (json, text)`, "invalid_value");
    }
    stats.transcriptions++;
    const callId = callIdOf(req);
    // Taken before any fault: the caller has moved on whether or not this request is answered.
    const text = transcriptOf(callId, audio);
    const fault = transcriptionFaults.take(callId);
    if (fault) stats.transcriptionFaults++;
    if (fault?.kind === "http") throw faultError(fault, String(form.get("model")));
    if (fault?.kind === "stall") return;
    if (format === "text") res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(text);
    else sendJson(res, 200, { text });
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    route(req, res).catch((error: unknown) => {
      const failure = error instanceof HttpError ? error : new HttpError(500, `emulator error: ${String(error)}`);
      log(`${req.method} ${req.url} -> ${failure.status}: ${failure.message}`);
      sendError(res, failure);
    });
  });
  server.keepAliveTimeout = options.keepAliveMs ?? 65_000;
  server.on("connection", () => stats.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const address = `http://127.0.0.1:${port}`;
  return {
    port,
    address,
    baseURL: `${address}/v1`,
    stats,
    injectChatFault: (fault, when) => chatFaults.add(fault, when),
    injectTranscriptionFault: (fault, when) => transcriptionFaults.add(fault, when),
    clearFaults: () => {
      chatFaults.clear();
      transcriptionFaults.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
