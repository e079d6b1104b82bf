// The agent acts: the core with an agent file whose tools are the reference booking service
// (infra/booking, real HTTP and SQLite on loopback), through a gate that can hold a tool's request
// the way a slow business system would. The chat emulator asks for find_slots and book over the real
// OpenAI wire format and quotes only what the tools returned.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, it, type TestContext } from "vitest";
import { bookingClient } from "../../../infra/booking/client.js";
import { startBookingService } from "../../../infra/booking/service.js";
import type { EmulatorsOptions } from "../../../infra/local/emulators/index.js";
import { DEFAULT_FIXED_PHRASES } from "../config.js";
import { callerSpeech, startCore, until, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";
import { ToolGate } from "../../testing/tool-gate.js";

const SECRET = "tool-signing-secret-for-tests";
const ASK = "שלום, יש לכם תור פנוי?";
const YES = "כן, בבקשה";
const MORE = "ומה עם חניה?";

const speech = new Map<string, Uint8Array>();

beforeAll(async () => {
  await Promise.all([ASK, YES, MORE].map(async (line) => speech.set(line, await callerSpeech(line))));
});

/**
 * Cores start one at a time: each warms up by synthesizing the fixed phrases, and five warming at once
 * on a loaded 2-core machine overrun the TTS deadline. Their calls then run side by side.
 */
let starting: Promise<unknown> = Promise.resolve();
function startCoreInTurn(options: Parameters<typeof startCore>[0]): Promise<CoreUnderTest> {
  const started = starting.then(() => startCore(options));
  starting = started.catch(() => undefined);
  return started;
}

/**
 * One test's own booking service (real HTTP and SQLite) behind its own gate, and the cores it starts
 * with the local agent file's tools on that gate. A test shares none of it: the calendar's free slots,
 * the gate's holds and its counts are that test's alone, so the tests run side by side.
 */
async function openCalendar(onTestFinished: TestContext["onTestFinished"]) {
  const dir = await mkdtemp(path.join(tmpdir(), "voice-tools-"));
  const booking = await startBookingService({ port: 0, dbPath: path.join(dir, "bookings.db"), signingSecret: SECRET });
  const gate = new ToolGate(booking.url);
  await gate.start();
  // The local agent file, its endpoints on the gate.
  const agent = JSON.parse(await readFile(new URL("../../../infra/local/agent.he.json", import.meta.url), "utf8")) as { tools: { endpoint: string }[] };
  for (const tool of agent.tools) tool.endpoint = `${gate.url}${new URL(tool.endpoint).pathname}`;
  const agentFile = path.join(dir, "agent.json");
  await writeFile(agentFile, JSON.stringify(agent));
  const cores: CoreUnderTest[] = [];
  onTestFinished(async () => {
    for (const core of cores) await core.close();
    await gate.close();
    await booking.close();
    await rm(dir, { recursive: true, force: true });
  });
  const client = () => bookingClient(booking.url, { secret: SECRET });
  return {
    gate,
    client,
    /** The book requests of a call that reached the gate (their idempotency keys). */
    booksOf: (callSid: string) => gate.arrived.filter((r) => r.path === "/tools/book" && r.key.startsWith(`${callSid}:`)).map((r) => r.key),
    bookingsOf: async (callSid: string) => (await client().appointments()).filter((appointment) => appointment.callSid === callSid),
    /** A core with the agent's tools on this gate; closed when the test ends. */
    async startAgentCore(env: Record<string, string>, emulators?: EmulatorsOptions): Promise<CoreUnderTest> {
      const core = await startCoreInTurn({ emulators, env: { AGENT_FILE: agentFile, TOOL_SIGNING_SECRET: SECRET, TOOL_FILLER_MS: "300", ...env } });
      cores.push(core);
      return core;
    },
  };
}

/** The sentences the agent said in turn `turn`, from the marks that follow each sentence's audio. */
const said = (call: EdgeLink, turn: number) => call.marks().flatMap((mark) => (mark.startsWith(`${turn}.`) && !mark.endsWith(".end") ? [mark.slice(mark.indexOf(":") + 1)] : []));

/** A call whose caller says `lines` (registered with the speech emulator); greeted by the edge. */
async function placeCall(core: CoreUnderTest, callSid: string, lines: string[]): Promise<EdgeLink> {
  core.emulators.speech.registerScript(callSid, lines);
  const call = await core.open(callSid);
  call.begin(true);
  call.echo("greeting");
  return call;
}

/** The caller asks for a free slot and hears the whole answer (turn 1). */
async function slotOffered(call: EdgeLink): Promise<void> {
  await call.say(speech.get(ASK)!);
  await call.mark("1.end");
  await call.echoOf("1.end");
}

// Each test has its own calendar and cores (openCalendar): the calls run side by side.
describe.concurrent("an agent with the booking tools", () => {
  it("offers the slot the service returned, books it on a yes, once, and says so; a filler plays while the booking is slow", async ({ expect, onTestFinished }) => {
    const { gate, client, booksOf, bookingsOf, startAgentCore } = await openCalendar(onTestFinished);
    const core = await startAgentCore({ LLM_SPECULATE: "false" });
    const callSid = "CA" + "7".repeat(31) + "1";
    const call = await placeCall(core, callSid, [ASK, YES]);
    await call.say(speech.get(ASK)!);
    await call.mark("1.end");
    const { date, slots } = ((await client().findSlots({})).body as { result: { date: string; slots: string[] } }).result;
    const [, time] = slots[0]!.split("T");
    expect(said(call, 1).join(" ")).toContain(time);
    expect(said(call, 1).join(" ")).toContain(date);

    gate.hold("/tools/book");
    await call.echoOf("1.end");
    await call.say(speech.get(YES)!);
    await until(() => booksOf(callSid).length > 0, "the book request");
    // The caller is not left in silence while the calendar answers.
    await call.markStarting(`2.`);
    await until(() => said(call, 2).includes(DEFAULT_FIXED_PHRASES.tool_wait), "the filler");
    gate.release("/tools/book");
    await call.mark("2.end");
    const bookings = await bookingsOf(callSid);
    expect(bookings.map((b) => b.slot)).toEqual([slots[0]]);
    expect(said(call, 2).join(" ")).toContain(time!);
    const turn = await core.logs.next("TURN", { call_id: callSid, turn: 2 });
    expect(turn).toMatchObject({ tools: [{ name: "book", ok: true }], tool_filler: true });
    await call.hangUp();
    const callLine = await core.logs.next("CALL", { call_id: callSid });
    expect(callLine).toMatchObject({ tool_calls: 2, tool_failures: 0 });
  });

  it("a barge-in while the booking runs cuts the agent, not the booking: one booking, and the next answer knows it", async ({ expect, onTestFinished }) => {
    const { gate, booksOf, bookingsOf, startAgentCore } = await openCalendar(onTestFinished);
    const core = await startAgentCore({ LLM_SPECULATE: "false" });
    const callSid = "CA" + "7".repeat(31) + "2";
    const call = await placeCall(core, callSid, [ASK, YES, MORE]);
    await slotOffered(call);
    gate.hold("/tools/book");
    await call.say(speech.get(YES)!);
    await until(() => booksOf(callSid).length > 0, "the book request");
    await until(() => said(call, 2).includes(DEFAULT_FIXED_PHRASES.tool_wait), "the filler");
    // The caller talks over the filler while the booking is still held.
    await call.say(speech.get(MORE)!, 100);
    await until(() => call.clears() > 0, "the barge-in's clear");
    gate.release("/tools/book");
    await call.mark("3.end");
    expect((await bookingsOf(callSid)).length).toBe(1);
    // The state the edge holds has the booking's call and result, next to each other.
    const history = call.states.at(-1)!.history;
    const at = history.findIndex((m) => m.role === "assistant" && m.toolCalls?.some((c) => c.name === "book"));
    expect(history[at + 1]).toMatchObject({ role: "tool", name: "book" });
    expect(history[at + 1]!.content).toContain('"result"');
    await call.hangUp();
  });

  it("a failing booking: the apology, nothing booked, no slot invented", async ({ expect, onTestFinished }) => {
    const { gate, bookingsOf, startAgentCore } = await openCalendar(onTestFinished);
    const core = await startAgentCore({ LLM_SPECULATE: "false" });
    const callSid = "CA" + "7".repeat(31) + "3";
    const call = await placeCall(core, callSid, [ASK, YES]);
    await slotOffered(call);
    gate.failing.add("/tools/book");
    try {
      await call.say(speech.get(YES)!);
      await call.mark("2.end");
    } finally {
      gate.failing.delete("/tools/book");
    }
    const words = said(call, 2);
    expect(words).toContain(DEFAULT_FIXED_PHRASES.tool_failed);
    expect(words.join(" ")).not.toMatch(/\d\d:\d\d/);
    expect(await bookingsOf(callSid)).toEqual([]);
    expect(await core.logs.next("TURN", { call_id: callSid, turn: 2 })).toMatchObject({ tools: [{ name: "book", ok: false }] });
    await call.hangUp();
  });

  it("a core that dies mid-booking: the next core makes the same call again (same key), one booking, and says it", async ({ expect, onTestFinished }) => {
    const { gate, booksOf, bookingsOf, startAgentCore } = await openCalendar(onTestFinished);
    const core = await startAgentCore({ LLM_SPECULATE: "false" });
    const callSid = "CA" + "7".repeat(31) + "4";
    const call = await placeCall(core, callSid, [ASK, YES]);
    await slotOffered(call);
    gate.hold("/tools/book");
    await call.say(speech.get(YES)!);
    await until(() => booksOf(callSid).length === 1, "the book request");
    // The state the edge holds names the call before the tool answered.
    await until(() => call.states.at(-1)!.history.some((m) => m.role === "assistant" && m.toolCalls?.some((c) => c.name === "book")), "the call in the state");
    const state = call.states.at(-1)!;
    call.ws.terminate(); // the core is gone, as far as the edge can tell

    const next = await startAgentCore({});
    try {
      const resumed = await next.open(callSid);
      resumed.resume(state);
      await until(() => booksOf(callSid).length === 2, "the resumed core's book request");
      expect(new Set(booksOf(callSid)).size).toBe(1); // the same idempotency key
      gate.release("/tools/book");
      await resumed.mark(`${state.turns + 1}.end`);
      const bookings = await bookingsOf(callSid);
      expect(bookings).toHaveLength(1);
      expect(said(resumed, state.turns + 1).join(" ")).toContain(bookings[0]!.slot.split("T")[1]!);
      await resumed.hangUp();
    } finally {
      gate.release("/tools/book");
    }
  });

  it("with speculation on: a discarded speculation's find_slots is aborted, and no speculative answer books: one book request, one booking", async ({ expect, onTestFinished }) => {
    const { gate, booksOf, bookingsOf, startAgentCore } = await openCalendar(onTestFinished);
    // The final comes 1.5 s after the recognizer's pause, so a speculation on the stable partial has
    // time to reach its tool; the partials read a different question than the final.
    const speculating = await startAgentCore({ LLM_SPECULATE: "true", STT_TIMEOUT_MS: "4000" }, { speech: { finalDelayMs: 1500 } });
    const findsOf = (callSid: string) => gate.arrived.filter((r) => r.path === "/tools/find_slots" && r.key.startsWith(`${callSid}:`));
    try {
      const callSid = "CA" + "7".repeat(31) + "5";
      speculating.emulators.speech.registerScript(callSid, [{ text: ASK, partials: "יש לכם תור פנוי מחר" }, YES]);
      const call = await speculating.open(callSid);
      call.begin(true);
      call.echo("greeting");
      gate.hold("/tools/find_slots");
      await call.say(speech.get(ASK)!);
      await until(() => findsOf(callSid).length === 1, "the speculation's find_slots");
      // The final differs: the speculation is dropped, its tool request with it, and the answer asks again.
      await until(() => findsOf(callSid).length === 2, "the answer's own find_slots");
      gate.release("/tools/find_slots");
      const turn = await speculating.logs.next("TURN", { call_id: callSid, turn: 1 });
      expect(turn).toMatchObject({ transcript: ASK, speculation: "discarded", tools: [{ name: "find_slots", ok: true }] });
      expect(gate.aborted.filter((r) => r.key === findsOf(callSid)[0]!.key)).toHaveLength(1);
      await call.mark("1.end");
      await call.echoOf("1.end");
      await call.say(speech.get(YES)!);
      await call.mark("2.end");
      expect(booksOf(callSid)).toHaveLength(1);
      const bookings = await bookingsOf(callSid);
      expect(bookings).toHaveLength(1);
      expect(said(call, 1).join(" ")).toContain(bookings[0]!.slot.split("T")[1]!);
      await call.hangUp();
    } finally {
      gate.release("/tools/find_slots");
    }
  });
});
