// The softphone server without a browser: it serves the page and its bundled scripts, lists the
// session's calls, opens a call only for a page of its own origin, answers bad input with a one-line
// error, and tells the page why a call failed when the edge refuses it.
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { CoreCallLog } from "../local/core-call-log.js";
import { startSoftphone, type Softphone } from "./server.js";
import type { PastCall, ServerMessage } from "./wire.js";

let softphone: Softphone;
/** An edge that holds each voice webhook until the test answers it. */
let edge: Server;
const webhooks: { path: string; signed: boolean; answer: ServerResponse }[] = [];
let webhookArrived: () => void = () => {};

beforeAll(async () => {
  edge = createServer((req, res) => {
    webhooks.push({ path: req.url ?? "", signed: typeof req.headers["x-twilio-signature"] === "string", answer: res });
    webhookArrived();
  });
  await new Promise<void>((resolve) => edge.listen(0, "127.0.0.1", resolve));
  const edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
  softphone = await startSoftphone({ edgeUrl, authToken: "token", accountSid: "AC00000000000000000000000000000001", callLog: new CoreCallLog(), port: 0, log: () => {} });
});

afterAll(async () => {
  await softphone?.close();
  edge?.closeAllConnections();
  await new Promise((resolve) => edge?.close(resolve));
});

type Until = (holds: (messages: ServerMessage[]) => boolean) => Promise<void>;

/**
 * Opens /call with `origin` and sends `send` once open; `whileOpen` runs then, able to wait until the
 * messages so far satisfy a condition; resolves with every text message once the server closes, or
 * with the refusal.
 */
function callSocket(origin: string | undefined, send: string[] = [], whileOpen = async (_until: Until) => {}) {
  const socket = new WebSocket(`${softphone.url.replace("http", "ws")}/call`, origin === undefined ? {} : { origin });
  const messages: ServerMessage[] = [];
  let arrived = () => {};
  const until: Until = async (holds) => {
    while (!holds(messages)) await new Promise<void>((resolve) => (arrived = resolve));
  };
  return new Promise<{ messages: ServerMessage[]; refused?: string }>((resolve) => {
    socket.on("open", () => {
      send.forEach((text) => socket.send(text));
      void whileOpen(until);
    });
    socket.on("message", (data, isBinary) => {
      if (isBinary) return;
      messages.push(JSON.parse(data.toString()) as ServerMessage);
      arrived();
    });
    socket.on("close", () => resolve({ messages }));
    socket.on("error", (error) => resolve({ messages, refused: error.message }));
  });
}

describe("the softphone server", () => {
  it("serves the page, its two bundled scripts and the style", async () => {
    const page = await fetch(softphone.url);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toContain('id="conversation"');
    for (const script of ["page.js", "phone-worklet.js"]) {
      const response = await fetch(`${softphone.url}/${script}`);
      expect(response.headers.get("content-type")).toMatch(/javascript/);
      expect((await response.text()).length).toBeGreaterThan(1000);
    }
    expect((await fetch(`${softphone.url}/phone-worklet.js`).then((r) => r.text())).includes("registerProcessor")).toBe(true);
    expect((await fetch(`${softphone.url}/style.css`)).status).toBe(200);
    expect((await fetch(`${softphone.url}/nothing`)).status).toBe(404);
    expect((await fetch(softphone.url, { method: "POST" })).status).toBe(405);
  });

  it("opens a call only for a page served from its own origin", async () => {
    expect((await callSocket("http://evil.example")).refused).toMatch(/403/);
    expect((await callSocket(undefined)).refused).toMatch(/403/);
  });

  it("answers a bad message with a one-line error, says why the call failed, and lists the call", async () => {
    const webhook = new Promise<void>((resolve) => (webhookArrived = resolve));
    const bad = ["{not json", JSON.stringify({ type: "say" }), JSON.stringify({ type: "dance" })];
    const errorsOf = (messages: ServerMessage[]) => messages.flatMap((message) => (message.type === "error" ? [message.message] : []));
    const { messages, refused } = await callSocket(softphone.url, bad, async (until) => {
      // The webhook is held while the bad messages are answered; then the edge refuses the call.
      await webhook;
      await until((sofar) => errorsOf(sofar).length === bad.length);
      webhooks[0]!.answer.writeHead(503).end("edge down");
    });
    expect(refused).toBeUndefined();
    expect(webhooks.map(({ path, signed }) => [path, signed])).toEqual([["/twilio/voice", true]]);
    expect(messages[0]).toMatchObject({ type: "call", offline: false });
    expect(errorsOf(messages)).toEqual([
      "a text message must be JSON",
      expect.stringMatching(/^bad message: text: /),
      expect.stringMatching(/^bad message: type: /),
      expect.stringMatching(/voice webhook .* answered 503: edge down/),
    ]);
    expect(messages.at(-1)).toMatchObject({ type: "ended", text: expect.stringMatching(/^Call ended: the call failed: /) });

    const calls = (await (await fetch(`${softphone.url}/calls`)).json()) as PastCall[];
    const callSid = (messages[0] as { callSid: string }).callSid;
    expect(calls.find((call) => call.callSid === callSid)).toMatchObject({ ended: expect.stringMatching(/call failed/), lines: [], heard: {} });
  });
});
