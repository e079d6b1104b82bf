// The agent controls the call: it hangs up after its farewell (end_call), puts the caller through to
// the staff after the announcement (transfer_to_staff), picks the call up again when nobody answered
// (edge.resume with the transfer's outcome) and takes a message (take_message), and ends a call whose
// caller stays silent. Through the core with the emulators (the chat emulator's call-control rules)
// and EdgeLink; the call's record part goes to a real HTTP receiver on loopback.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { callLine, coreRecordPart, type ConversationState, type CoreRecordPart } from "@voice/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_FIXED_PHRASES } from "../config.js";
import { callerSpeech, noiseBurst, startCore, until, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";

const BYE = "זהו, תודה רבה, להתראות";
const PERSON = "אני רוצה לדבר עם נציג בבקשה";
const MESSAGE = "כן, תגידו לרופא שאני מאחרת בעשר דקות";
const FAREWELL = "תודה שהתקשרת, יום נעים ולהתראות!";
const IDLE_REPROMPT_MS = 1500;
const ALL_DAY = ["00:00", "24:00"];
/** The calls run 4x faster than real time, both ways: the core decides on the caller's audio clock. */
const SPEED = 4;

let dir: string;
let core: CoreUnderTest;
let receiver: Server;
let recordUrl: string;
const parts: CoreRecordPart[] = [];
const speech = new Map<string, Uint8Array>();

/** The agent file: no business tools; transfers at any hour (the hours themselves: business-hours.test.ts). */
async function agentFile(name: string, hours: Record<string, string[]>): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify({ prompt: "את פקידת הקבלה של מרפאת שיניים.", tools: [], transfer: { timeZone: "Asia/Jerusalem", hours } }));
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "voice-control-"));
  const everyDay = Object.fromEntries(["sun", "mon", "tue", "wed", "thu", "fri", "sat"].map((day) => [day, ALL_DAY]));
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      parts.push(coreRecordPart.parse(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  recordUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/calls/record`;
  [core] = await Promise.all([
    agentFile("agent.json", everyDay).then((file) =>
      startCore({ env: { AGENT_FILE: file, LLM_SPECULATE: "false", IDLE_REPROMPT_MS: String(IDLE_REPROMPT_MS), IDLE_MAX_REPROMPTS: "2" } }),
    ),
    ...[BYE, PERSON, MESSAGE].map(async (line) => speech.set(line, await callerSpeech(line))),
  ]);
});

afterAll(async () => {
  await core?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** The sentences the agent said in turn `turn`, from the marks that follow each sentence's audio. */
const said = (call: EdgeLink, turn: number) => call.marks().flatMap((mark) => (mark.startsWith(`${turn}.`) && !mark.endsWith(".end") ? [mark.slice(mark.indexOf(":") + 1)] : []));

/** A call whose caller says `lines` (registered with the speech emulator); greeted by the edge, which takes the record. */
async function placeCall(callSid: string, lines: string[]): Promise<EdgeLink> {
  core.emulators.speech.registerScript(callSid, lines);
  const call = await core.open(callSid);
  call.begin(true, { speed: SPEED, recordUrl });
  call.echo("greeting");
  return call;
}

/** The marks the caller had heard (echoed) when the core's `core.end` came. */
const echoedAtEnd = (call: EdgeLink) => call.next((frame) => frame.event === "core.end").then(() => [...call.echoed]);

// Each test checks only its own call: they run side by side, except the caller back from a transfer,
// who comes after the transfer.
describe.concurrent("the agent ends the call", () => {
  it("end_call: the farewell plays to its end, a caller talking over it does not stop it, then core.end agent and the link closes", async ({ expect }) => {
    const callSid = "CA-control-goodbye";
    const call = await placeCall(callSid, [BYE, PERSON]);
    // The farewell's marks come back only when the test says: the caller talks while it "plays".
    call.echoMarks = false;
    const heardAtEnd = echoedAtEnd(call);
    await call.say(speech.get(BYE)!);
    await call.mark("1.end");
    expect(said(call, 1)).toEqual([FAREWELL]);
    await call.say(speech.get(PERSON)!, 0);
    expect(call.clears()).toBe(0);
    expect(call.received.some((frame) => frame.event === "core.end")).toBe(false);

    for (const mark of call.marks().filter((name) => name.startsWith("1."))) call.echo(mark);
    expect(await call.coreEnd()).toEqual({ event: "core.end", reason: "agent" });
    expect(await heardAtEnd).toContain("1.end");
    expect(await call.closed).toBe(1000);
    expect(call.closedByCore).toBe(true);
    expect(callLine.parse(await core.logs.next("CALL", { call_id: callSid }))).toMatchObject({ end_reason: "agent", turns: 1, barge_ins: 0 });
    // Nobody heard the caller's words over the farewell: no request to the model ever carried them.
    expect(core.emulators.openai.stats.completions.filter((c) => c.callId === callSid && JSON.stringify(c.messages).includes(PERSON))).toEqual([]);
    const history = call.states.at(-1)!.history;
    expect(history.at(-1)).toMatchObject({ role: "assistant", content: FAREWELL, toolCalls: [{ name: "end_call" }] });
  });
});

describe.concurrent("a transfer to the staff", () => {
  // The caller who comes back is the one the first of these transferred: these two run in order.
  describe("and back", () => {
    let transferState: ConversationState;

    it.sequential("transfer_to_staff: the announcement plays to its end, then core.end transfer with the caller's words as the reason", async ({ expect }) => {
      const callSid = "CA-control-transfer";
      const call = await placeCall(callSid, [PERSON]);
      const heardAtEnd = echoedAtEnd(call);
      await call.say(speech.get(PERSON)!);
      expect(await call.coreEnd()).toEqual({ event: "core.end", reason: "transfer", transferReason: PERSON });
      expect(said(call, 1)).toEqual([DEFAULT_FIXED_PHRASES.transfer_announce]);
      expect(await heardAtEnd).toContain("1.end");
      expect(await call.closed).toBe(1000);
      expect(callLine.parse(await core.logs.next("CALL", { call_id: callSid }))).toMatchObject({ end_reason: "transfer" });
      // The state the edge keeps: the transfer's call, without a result (the caller may come back).
      transferState = call.states.at(-1)!;
      expect(transferState.history.at(-1)).toMatchObject({ role: "assistant", toolCalls: [{ name: "transfer_to_staff" }] });
      expect(core.emulators.openai.stats.tools.get(callSid)?.offered).toEqual(expect.arrayContaining(["end_call", "transfer_to_staff", "take_message"]));
    });

    it.sequential("back after nobody answered: the agent speaks first and offers a message; the message is taken in the caller's words and reaches the record", async ({ expect }) => {
      const callSid = "CA-control-return";
      core.emulators.speech.registerScript(callSid, [MESSAGE]);
      const call = await core.open(callSid);
      call.resume(transferState, { transfer: { outcome: "no-answer" }, recordUrl, speed: SPEED });
      const turn = transferState.turns + 1;
      await call.mark(`${turn}.end`);
      expect(said(call, turn).join(" ")).toMatch(/לא ענה.*הודעה/);
      const history = call.states.at(-1)!.history;
      const at = history.findIndex((m) => m.role === "assistant" && m.toolCalls?.some((c) => c.name === "transfer_to_staff"));
      expect(history[at + 1]).toMatchObject({ role: "tool", name: "transfer_to_staff" });
      expect(JSON.parse(history[at + 1]!.content)).toEqual({ result: { transferred: false, outcome: "no-answer" } });

      await call.echoOf(`${turn}.end`);
      await call.say(speech.get(MESSAGE)!);
      await call.mark(`${turn + 1}.end`);
      expect(said(call, turn + 1).join(" ")).toMatch(/רשמתי את ההודעה/);
      await call.hangUp();
      await until(() => parts.some((part) => part.callSid === callSid), "the call's record part");
      const part = parts.find((p) => p.callSid === callSid)!;
      expect(part.endReason).toBe("stop");
      expect(part.callback).toMatchObject({ reason: MESSAGE });
    });
  });

  it("outside the staff's hours the model is never offered transfer_to_staff, and the call goes on", async ({ expect }) => {
    const closed = await startCore({ env: { AGENT_FILE: await agentFile("closed.json", {}), LLM_SPECULATE: "false" } });
    try {
      const callSid = "CA-control-closed";
      closed.emulators.speech.registerScript(callSid, [PERSON]);
      const call = await closed.open(callSid);
      call.begin(true, { speed: SPEED });
      call.echo("greeting");
      await call.say(speech.get(PERSON)!);
      await call.mark("1.end");
      // The caller's one turn: the only tool offered is end_call (no record URL from the edge: no take_message either).
      const offered = closed.emulators.openai.stats.completions.filter((c) => c.callId === callSid && c.toolsOffered.length > 0).map((c) => c.toolsOffered);
      expect(offered).toEqual([["end_call"]]);
      expect(call.received.some((frame) => frame.event === "core.end")).toBe(false);
      await call.hangUp();
    } finally {
      await closed.close();
    }
  });
});

describe.concurrent("a silent caller", () => {
  it("two reprompts IDLE_REPROMPT_MS after the agent's last words on the caller's clock, noise not counting as words, then the goodbye and core.end idle", async ({ expect }) => {
    const callSid = "CA-control-silent";
    // A caller who says no words: the noise below is transcribed as nothing.
    const call = await placeCall(callSid, []);
    const greetingHeardAtMs = call.audioSentMs;
    const first = await core.logs.next("the caller is silent; reprompting", { call_id: callSid, reprompt: 1 });
    // The count starts when the caller heard the greeting (the next frame after its echo).
    expect(Math.abs(Number(first.silent_from_audio_ms) - greetingHeardAtMs)).toBeLessThanOrEqual(40);
    expect(Number(first.audio_ms) - Number(first.silent_from_audio_ms)).toBe(IDLE_REPROMPT_MS);

    // Read as the echo goes out (before the line sends another frame). Then noise while the second
    // count runs: an utterance without words.
    const repromptHeardAtMs = await call.echoOf("0.end").then(() => call.audioSentMs);
    await call.say(noiseBurst(400), 700);
    const second = await core.logs.next("the caller is silent; reprompting", { call_id: callSid, reprompt: 2 });
    expect(Math.abs(Number(second.silent_from_audio_ms) - repromptHeardAtMs)).toBeLessThanOrEqual(40);
    // The emulator did hear the noise as an utterance, one without words (it may count it after the
    // core's reprompt: the two read the same audio, each at its own pace).
    await until(() => core.emulators.speech.stats.wordlessUtterances > 0, "the noise heard as an utterance without words");

    expect(await call.coreEnd()).toEqual({ event: "core.end", reason: "idle" });
    const reprompts = call.marks().filter((name) => name === `0.1:${DEFAULT_FIXED_PHRASES.idle_reprompt}`);
    expect(reprompts).toHaveLength(2);
    expect(said(call, 1)).toEqual([DEFAULT_FIXED_PHRASES.goodbye]);
    expect(call.echoed).toContain("1.end");
    expect(await call.closed).toBe(1000);
    expect(callLine.parse(await core.logs.next("CALL", { call_id: callSid }))).toMatchObject({ end_reason: "idle", turns: 0 });
  });
});
