// The record sender over real sockets: the summary through the real openai SDK against the chat
// emulator, and the POST to a loopback HTTP server standing in for the edge's record route, which
// checks the core token (purpose "record", this call) and the body as the edge would.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CORE_RECORD_PATH, coreRecordPart, verifyCoreToken, type CoreRecordPart } from "@voice/protocol";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOpenAiEmulator, type OpenAiEmulator } from "../../../infra/local/emulators/openai.js";
import { LogCapture } from "../../testing/log-capture.js";
import type { ChatMessage } from "../llm/types.js";
import { createLogger } from "../metrics/log.js";
import { createOpenAiSummarizer } from "./openai-summarizer.js";
import { createRecordSender, type RecordDesk } from "./sender.js";

const SECRET = "record-test-secret-0123456789";
/** Makes each retry wait about half its schedule (the jitter's shortest). */
const HASTY = () => 0.999;

/** What the edge stand-in got: each POST's call, whether it was accepted, and the accepted parts. */
interface EdgeStandIn {
  server: Server;
  url: string;
  posts: Array<{ callSid: string; status: number }>;
  parts: CoreRecordPart[];
  /** Statuses to answer a call's POSTs with, in order, before the route's own verdict. */
  answers: Map<string, number[]>;
}

async function startEdgeStandIn(): Promise<EdgeStandIn> {
  const edge: Omit<EdgeStandIn, "server" | "url"> = { posts: [], parts: [], answers: new Map() };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      void (async () => {
        const token = req.headers.authorization?.replace(/^Bearer /, "");
        const check = await verifyCoreToken(SECRET, "record", token, Date.now());
        const parsed = coreRecordPart.safeParse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        const callSid = parsed.success ? parsed.data.callSid : "?";
        const forced = edge.answers.get(callSid)?.shift();
        const status = forced ?? (!check.ok || check.callSid !== callSid ? 401 : parsed.success && req.url === CORE_RECORD_PATH ? 204 : 400);
        edge.posts.push({ callSid, status });
        if (status === 204 && parsed.success) edge.parts.push(parsed.data);
        res.writeHead(status).end();
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { ...edge, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${CORE_RECORD_PATH}` };
}

let openai: OpenAiEmulator;
let edge: EdgeStandIn;
let logs: LogCapture;
let client: OpenAI;
let records: RecordDesk;

beforeAll(async () => {
  [openai, edge] = await Promise.all([startOpenAiEmulator({ firstTokenMs: 5, tokenIntervalMs: 0, log: () => {} }), startEdgeStandIn()]);
  logs = new LogCapture();
  client = new OpenAI({ apiKey: "test", baseURL: openai.baseURL, maxRetries: 0, logLevel: "off" });
  records = sender();
});

afterAll(async () => {
  await Promise.all([openai?.close(), new Promise((resolve) => edge?.server.close(resolve))]);
});

function sender(summaryTimeoutMs = 10_000): RecordDesk {
  const log = createLogger({ level: "debug", debug: false, destination: logs, secrets: [SECRET] });
  return createRecordSender({ secret: SECRET, language: "he-IL", summarize: createOpenAiSummarizer(client, "gpt-4o-mini"), summaryTimeoutMs, log, random: HASTY });
}

const CALLER_SAID = "קוראים לי דנה ואני רוצה לקבוע תור, תחזרו אליי";
const history: ChatMessage[] = [
  { role: "assistant", content: "שלום, במה אפשר לעזור?" },
  { role: "user", content: CALLER_SAID },
  { role: "assistant", content: "אין תורים פנויים, אשאיר הודעה.", toolCalls: [{ id: "m1", name: "take_message", arguments: JSON.stringify({ name: "דנה", reason: "לקבוע תור" }) }] },
  { role: "tool", toolCallId: "m1", name: "take_message", content: JSON.stringify({ result: { taken: true } }) },
  { role: "assistant", content: "רשמתי, יחזרו אלייך." },
];

const partsOf = (callSid: string) => edge.parts.filter((part) => part.callSid === callSid);
const postsOf = (callSid: string) => edge.posts.filter((post) => post.callSid === callSid);

describe("the record sender", () => {
  it("posts the part with a summary made only of the transcript, signed for the call; the log line has counts, not words", async () => {
    await records.send({ callSid: "CA-rec-ok", endReason: "stop", history, recordUrl: edge.url });
    expect(postsOf("CA-rec-ok")).toEqual([{ callSid: "CA-rec-ok", status: 204 }]);
    const [part] = partsOf("CA-rec-ok");
    expect(part).toMatchObject({
      endReason: "stop",
      callback: { name: "דנה", phone: null, reason: "לקבוע תור" },
      tools: [{ name: "take_message", ok: true, result: { taken: true } }],
      outcome: { intent: "קביעת תור", name: "דנה", callbackRequested: true, callbackReason: "לקבוע תור" },
    });
    expect(part!.summary).toContain("קביעת תור");
    expect(part!.summaryError).toBeUndefined();
    expect(part!.conversation.map((utterance) => utterance.speaker)).toEqual(["agent", "caller", "agent", "agent"]);
    const [line] = logs.find("call record sent", { call_id: "CA-rec-ok" });
    expect(line).toMatchObject({ attempts: 1, summary: true, utterances: 4, tools: 1, callback: true });
    expect(JSON.stringify(logs.lines)).not.toContain("דנה");
    expect(records.pending()).toBe(0);
  });

  it("sends the part without a summary, saying why, when the summary request fails or runs past its deadline", async () => {
    openai.injectChatFault({ kind: "http", status: 500 }, { callId: "CA-rec-llm-500" });
    openai.injectChatFault({ kind: "malformed", shape: "html" }, { callId: "CA-rec-llm-html" });
    openai.injectChatFault({ kind: "stall" }, { callId: "CA-rec-llm-stall" });
    const quick = sender(1000);
    await Promise.all([
      records.send({ callSid: "CA-rec-llm-500", endReason: "stop", history, recordUrl: edge.url }),
      records.send({ callSid: "CA-rec-llm-html", endReason: "stop", history, recordUrl: edge.url }),
      quick.send({ callSid: "CA-rec-llm-stall", endReason: "stop", history, recordUrl: edge.url }),
    ]);
    const reasons: Array<[string, RegExp]> = [
      ["CA-rec-llm-500", /^the summary request failed: 500 /],
      ["CA-rec-llm-html", /^the summary request failed: the summary completion has no message content$/],
      ["CA-rec-llm-stall", /^the summary took over 1000 ms$/],
    ];
    for (const [callSid, reason] of reasons) {
      const [part] = partsOf(callSid);
      expect(part, callSid).toMatchObject({ summary: null, outcome: null, callback: { name: "דנה" } });
      expect(part!.conversation, callSid).toHaveLength(4);
      expect(part!.summaryError, callSid).toMatch(reason);
      expect(logs.find("call record sent", { call_id: callSid })[0], callSid).toMatchObject({ summary: false, summary_error: part!.summaryError });
    }
  });

  it("retries the edge's 5xx and delivers once; never retries a 4xx; gives up after its attempts on an edge that cannot be reached", async () => {
    edge.answers.set("CA-rec-5xx", [500, 503]);
    edge.answers.set("CA-rec-4xx", [400]);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const unreachable = `http://127.0.0.1:${(closed.address() as AddressInfo).port}${CORE_RECORD_PATH}`;
    await new Promise((resolve) => closed.close(resolve));
    await Promise.all([
      records.send({ callSid: "CA-rec-5xx", endReason: "stop", history, recordUrl: edge.url }),
      records.send({ callSid: "CA-rec-4xx", endReason: "stop", history, recordUrl: edge.url }),
      records.send({ callSid: "CA-rec-down", endReason: "stop", history: [], recordUrl: unreachable }),
    ]);
    expect(postsOf("CA-rec-5xx").map((post) => post.status)).toEqual([500, 503, 204]);
    expect(partsOf("CA-rec-5xx")).toHaveLength(1);
    expect(logs.find("call record sent", { call_id: "CA-rec-5xx" })[0]).toMatchObject({ attempts: 3 });
    expect(postsOf("CA-rec-4xx").map((post) => post.status)).toEqual([400]);
    expect(logs.find("call record refused by the edge", { call_id: "CA-rec-4xx" })[0]).toMatchObject({ status: 400, attempts: 1 });
    const down = logs.lines.filter((line) => line.call_id === "CA-rec-down");
    expect(down).toHaveLength(1);
    expect(down[0]).toMatchObject({ message: "call record not delivered", attempts: 3, summary_error: "the caller said nothing" });
    expect(down[0]!.error).toMatch(/ECONNREFUSED/);
  });

  it("sends nothing, and asks no summary, without a record URL", async () => {
    const requests = openai.stats.requests;
    await records.send({ callSid: "CA-rec-none", endReason: "stop", history });
    expect(postsOf("CA-rec-none")).toEqual([]);
    expect(openai.stats.requests).toBe(requests);
    expect(logs.find("no record URL from the edge: no call record sent", { call_id: "CA-rec-none" })).toHaveLength(1);
  });

  it("at shutdown gives up a summary still running and posts the part within the drain budget", async () => {
    const stopping = sender();
    openai.injectChatFault({ kind: "stall" }, { callId: "CA-rec-drain" });
    const sent = stopping.send({ callSid: "CA-rec-drain", endReason: "stop", history, recordUrl: edge.url });
    await expect.poll(() => openai.stats.completions.some((completion) => completion.callId === "CA-rec-drain")).toBe(true);
    expect(stopping.pending()).toBe(1);
    await stopping.drain(5000);
    expect(stopping.pending()).toBe(0);
    await sent;
    expect(partsOf("CA-rec-drain")[0]).toMatchObject({ summary: null, summaryError: "the core shut down before the summary was made" });
    // A part handed over after the drain began goes straight out, without a summary request.
    const requests = openai.stats.requests;
    await stopping.send({ callSid: "CA-rec-late", endReason: "stop", history, recordUrl: edge.url });
    expect(openai.stats.requests).toBe(requests);
    expect(partsOf("CA-rec-late")[0]).toMatchObject({ summary: null, summaryError: "the core was shutting down" });
  });
});
