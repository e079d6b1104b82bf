// The local call-record receiver: signed records in, the first of each recordId kept on disk, GET lists them.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RECORD_SIGNATURE_HEADER, RECORD_TIMESTAMP_HEADER, recordSignature, type CallRecord } from "@voice/protocol/call-record";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startRecordReceiver, type RecordReceiver } from "./record-receiver.js";

const SECRET = "local-call-record-secret";
const WORDS = "קוראים לי דנה ואני רוצה לבטל את התור";

const record = (recordId: string): CallRecord => ({
  recordId,
  callSid: `CA${"1".repeat(32)}`,
  from: "+15005550006",
  to: "+15005550001",
  startedAt: "2026-05-01T09:00:00.000Z",
  endedAt: "2026-05-01T09:01:30.000Z",
  durationMs: 90_000,
  endReason: "transfer",
  conversation: [{ speaker: "caller", text: WORDS }, { speaker: "agent", text: "אני מעבירה אתכם" }],
  tools: [],
  transfer: { to: "+97235550100", outcome: "no-answer", returnedToAgent: true },
  callback: { name: "דנה", phone: null, reason: WORDS },
  summary: WORDS,
  outcome: null,
});

let dir: string;
let receiver: RecordReceiver | undefined;
let logLines: string[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "records-"));
  logLines = [];
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  await rm(dir, { recursive: true, force: true });
});

const start = async () => (receiver = await startRecordReceiver({ port: 0, dbPath: join(dir, "records.db"), secret: SECRET, log: (line) => logLines.push(line) }));

async function deliver(body: string, options: { secret?: string; timestampMs?: number } = {}): Promise<{ status: number; body: unknown }> {
  const timestampMs = options.timestampMs ?? Date.now();
  const response = await fetch(receiver!.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [RECORD_TIMESTAMP_HEADER]: String(timestampMs),
      [RECORD_SIGNATURE_HEADER]: await recordSignature(options.secret ?? SECRET, timestampMs, body),
    },
    body,
  });
  return { status: response.status, body: await response.json() };
}

const listed = async () => (await fetch(receiver!.url)).json() as Promise<CallRecord[]>;

describe("call-record receiver", () => {
  it("keeps a signed record, acknowledges its retry without keeping it twice, and still has it after a restart", async () => {
    await start();
    expect(receiver!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/records$/);
    const first = JSON.stringify(record("rec-1"));
    expect(await deliver(first)).toEqual({ status: 200, body: { stored: true } });
    expect(await deliver(first)).toEqual({ status: 200, body: { stored: false } });
    expect(await deliver(JSON.stringify(record("rec-2")))).toEqual({ status: 200, body: { stored: true } });
    expect(await listed()).toEqual([record("rec-1"), record("rec-2")]);

    // One line per delivery, saying what happened, never the caller's words.
    expect(logLines).toHaveLength(3);
    expect(logLines[0]).toMatch(/^record rec-1 call CA1+ transfer 90000 ms, 2 utterances, 0 tools transfer no-answer \(returned\), callback asked: stored$/);
    expect(logLines[1]).toMatch(/rec-1 .*retry, already stored$/);
    for (const line of logLines) expect(line).not.toMatch(/דנה|לבטל/);

    await receiver!.close();
    await start();
    expect((await listed()).map((r) => r.recordId)).toEqual(["rec-1", "rec-2"]);
  });

  it("refuses a bad signature, a stale timestamp and a body that is not a record, keeping nothing", async () => {
    await start();
    const body = JSON.stringify(record("rec-bad"));
    expect(await deliver(body, { secret: "another-secret" })).toEqual({ status: 401, body: { error: "x-voice-signature: does not match" } });
    expect(await deliver(body, { timestampMs: Date.now() - 10 * 60_000 })).toEqual({ status: 401, body: { error: "x-voice-timestamp: outside the replay window" } });
    expect(await deliver(JSON.stringify({ ...record("rec-bad"), endReason: "vanished" }))).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^endReason: /) } });
    expect(await deliver("{not json")).toEqual({ status: 400, body: { error: "body: not JSON" } });
    const unsigned = await fetch(receiver!.url, { method: "POST", body });
    expect(unsigned.status).toBe(401);
    expect((await fetch(receiver!.url.replace("/records", "/other"))).status).toBe(404);
    expect(await listed()).toEqual([]);
    expect(logLines).toHaveLength(6);
    for (const line of logLines) expect(line).not.toMatch(/דנה|לבטל/);
  });
});
