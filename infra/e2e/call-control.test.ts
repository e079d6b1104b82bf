// How calls end and move, through the whole stack (simulated Twilio -> edge in workerd -> core
// process -> emulators, with the call-record receiver): the agent transfers to the staff and the
// caller hears the whole announcement before the ring; a transfer nobody takes brings the caller
// back to an agent that remembers the call; the agent's goodbye is heard to its end before the call
// ends; a silent caller, or one with only a tone on the line, gets two reprompts and the goodbye; a
// core killed for good sends the caller to the fallback number, not silence; every one of these
// calls leaves exactly one signed record at the receiver; and with LOG_TRANSCRIPTS at its default
// (redacted), a caller who says an Israeli ID and a card number and keys another card leaves none of
// them in any line the core or the edge writes, though the agent heard every digit. (One stack for
// the calls with a living core, and one whose core is killed: all the calls run at once.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { turnLine, type CallRecord } from "@voice/protocol";
import { DEFAULT_FIXED_PHRASES } from "../../core-node/src/config.js";
import goodbyeScript from "../local/scripts/goodbye.he.json" with { type: "json" };
import transferAnswered from "../local/scripts/transfer-answered.he.json" with { type: "json" };
import { readWranglerConfig } from "../local/edge.js";
import { isSummaryRequest } from "../local/emulators/chat-summary.js";
import { LOCAL_NUMBERS, LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import type { CoreLogLine } from "../local/core-process.js";
import { runCall } from "../sim/call.js";
import type { CallReport } from "../sim/report.js";
import type { CallerScript } from "../sim/script.js";

const ASK_FOR_STAFF = "שלום, אפשר לדבר עם מישהו מהצוות?";
const RECALL = "מה שאלתי?";
/** The reprompt interval of this stack: the behaviour of the default 8 s, in less of the suite's time. */
const IDLE_REPROMPT_MS = 2500;

/** Check digits valid (the Israeli ID's and Luhn's), so the redactor has to recognise each. */
const ID = "123456782";
const SPOKEN_CARD = "4580111122223337";
const KEYED_CARD = "5326123456789011";
const ID_LINE = `ת"ז ${ID}`;
const CARD_LINE = `מספר הכרטיס ${SPOKEN_CARD.replace(/(\d{4})(?=\d)/g, "$1 ")}`;

/** The number's digits in order with any spaces or dashes between them: "4580 1111 ...", "[keypad] 5 3 2 6 ...". */
const writtenAnyhow = (digits: string) => new RegExp([...digits].join("[\\s-]*"));

let stack: Stack;
/** A stack of its own for the call whose core is killed, so the other calls keep theirs. */
let doomed: Stack;
const coreLines: CoreLogLine[] = [];
/** Every line the core and the edge wrote, as written. */
const allLines: string[] = [];
const reports = new Map<string, CallReport>();
/** The call whose core was killed while it answered. */
let killed: CallReport;

const call = (script: CallerScript, on = stack) =>
  runCall({ url: on.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script, scriptRegistry: on.emulators.scriptRegistry.url, timeoutMs: 30_000 });

/** The CALL line of a call (the core writes one per call it served). */
const callLineOf = (callSid: string) => coreLines.find((line) => line.json?.message === "CALL" && line.json.call_id === callSid)?.json;

/** The receiver's records of a call, once `count` of them are in (the desk waits for the core's summary first). */
async function recordsOf(callSid: string, on = stack, timeoutMs = 40_000): Promise<CallRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = on.records!.records().filter((record) => record.callSid === callSid);
    if (found.length > 0 || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  const quiet = { log: () => {} };
  const options = {
    emulators: { speech: quiet, tts: quiet, openai: quiet },
    // The local agent file (its transfer section takes transfers at any hour) and its booking service.
    booking: { log: () => {} },
    records: { log: () => {} },
    coreEnv: { IDLE_REPROMPT_MS: String(IDLE_REPROMPT_MS) },
    // A core that is gone for good is given up on after 3 s (30 s in production); the record desk
    // waits as long for a core's part that will never come.
    edgeVars: { RECONNECT_BUDGET_MS: "3000", RECORD_WAIT_MS: "3000" },
  };
  const doomedCoreLines: CoreLogLine[] = [];
  [stack, doomed] = await Promise.all([
    startStack({
      ...options,
      onCoreLine: (line) => {
        coreLines.push(line);
        allLines.push(line.text);
      },
      onEdgeLine: (line) => allLines.push(line.text),
    }),
    startStack({ ...options, onCoreLine: (line) => doomedCoreLines.push(line), onEdgeLine: () => {} }),
  ]);
  const callWhoseCoreDies = async () => {
    const report = call({ language: "he-IL", voice: "he", lines: ["שלום, מה שעות הפתיחה שלכם?", { text: "ומה עם יום שישי?", pauseMs: 1500 }] } as CallerScript, doomed);
    // Once the first answer is under way, the core dies and nothing replaces it.
    await waitFor(() => doomedCoreLines.some((line) => line.json?.message === "TURN"), "the first answer of the call");
    doomed.core.kill("SIGKILL");
    killed = await report;
  };
  // The calls that need a living core, and the one whose core dies, all at once.
  const scripts: Record<string, CallerScript> = {
    answered: transferAnswered as CallerScript,
    returned: { language: "he-IL", voice: "he", dial: "no-answer", lingerMs: 6000, lines: [ASK_FOR_STAFF, { text: RECALL, pauseMs: 3000 }, "תודה רבה, להתראות"] } as CallerScript,
    goodbye: goodbyeScript as CallerScript,
    silent: { language: "he-IL", voice: "he", lines: [{ silenceMs: 40_000 }] } as CallerScript,
    tone: { language: "he-IL", voice: "he", lines: [{ toneMs: 40_000 }] } as CallerScript,
    numbers: { language: "he-IL", voice: "he", lines: [ID_LINE, CARD_LINE, { dtmf: `${KEYED_CARD}#` }] } as CallerScript,
  };
  const [done] = await Promise.all([Promise.all(Object.entries(scripts).map(async ([name, script]) => [name, await call(script)] as const)), callWhoseCoreDies()]);
  for (const [name, report] of done) reports.set(name, report);
}, 180_000);

afterAll(async () => {
  await Promise.all([stack?.stop(), doomed?.stop()]);
});

describe("the agent transfers to the staff", () => {
  it("the caller hears the whole announcement, then the staff number rings within a second; the staff member hears why", () => {
    const report = reports.get("answered")!;
    expect(report.errors).toEqual([]);
    expect(report.ended_by).toBe("transfer");
    expect(report.transferred_to).toBe(LOCAL_NUMBERS.STAFF_NUMBER);
    expect(report.turns.at(-1)!.agent_text).toContain(DEFAULT_FIXED_PHRASES.transfer_announce);
    expect(report.dead_air_ms).not.toBeNull();
    expect(report.dead_air_ms!).toBeLessThan(1000);
    expect(report.whisper_text).toMatch(/מישהו מהצוות/);
    expect(callLineOf(report.call_sid)?.end_reason).toBe("transfer");
  });

  it("nobody answers: the caller is back with the agent, which says so and still knows what was asked", () => {
    const report = reports.get("returned")!;
    expect(report.errors).toEqual([]);
    expect(report.dial_outcome).toBe("no-answer");
    expect(report.returned_to_agent).toBe(true);
    expect(report.return_answers[0]).toMatch(/הודעה/);
    const recall = report.turns.find((turn) => turn.caller_text === RECALL)!;
    expect(recall.agent_text).toBe(`שאלת קודם: ${ASK_FOR_STAFF}`);
    expect(report.ended_by).toBe("agent");
  });
});

describe("the agent ends the call", () => {
  it("after its goodbye, heard to the end", () => {
    const report = reports.get("goodbye")!;
    expect(report.errors).toEqual([]);
    expect(report.ended_by).toBe("agent");
    expect(report.turns.at(-1)!.agent_text).toBe("תודה שהתקשרת, יום נעים ולהתראות!");
    expect(callLineOf(report.call_sid)?.end_reason).toBe("agent");
    // A farewell prepared on the caller's stable partial is played, end_call and all: the goodbye is
    // not asked of the LLM again once the final transcript matches it.
    const goodbyeTurn = coreLines.filter((line) => line.json?.message === "TURN" && line.json.call_id === report.call_sid).at(-1)?.json;
    expect(goodbyeTurn?.speculation).not.toBe("discarded");
  });

  for (const [name, what] of [
    ["silent", "a silent caller"],
    ["tone", "a caller with only a tone on the line (no words)"],
  ] as const) {
    it(`${what} hears two reprompts, then the goodbye, and the call ends`, () => {
      const report = reports.get(name)!;
      expect(report.errors).toEqual([]);
      expect(report.ended_by).toBe("agent");
      const { idle_reprompt, goodbye } = DEFAULT_FIXED_PHRASES;
      expect(report.turns.map((turn) => turn.agent_text).join(" ")).toBe(`${idle_reprompt} ${idle_reprompt} ${goodbye}`);
      expect(callLineOf(report.call_sid)?.end_reason).toBe("idle");
    });
  }
});

describe("a record of every call", () => {
  it("one signed record per call at the receiver, with how it ended, the words and the summary", async () => {
    const expected: Record<string, CallRecord["endReason"]> = { answered: "transfer", returned: "agent", goodbye: "agent", silent: "idle", tone: "idle" };
    for (const [name, endReason] of Object.entries(expected)) {
      const report = reports.get(name)!;
      const records = await recordsOf(report.call_sid);
      expect(records, name).toHaveLength(1);
      const [record] = records as [CallRecord];
      expect(record.endReason, name).toBe(endReason);
      if (endReason === "idle") {
        // Nothing was said to sum up: no summary, and the record says why.
        expect(record).toMatchObject({ summary: null, summaryError: "the caller said nothing" });
      } else {
        expect(record.summaryError, name).toBeUndefined();
        expect(record.summary, name).toEqual(expect.any(String));
      }
    }
    const answered = (await recordsOf(reports.get("answered")!.call_sid))[0]!;
    expect(answered.transfer).toEqual({ to: LOCAL_NUMBERS.STAFF_NUMBER, outcome: "completed", returnedToAgent: false });
    expect(answered.conversation.find((said) => said.speaker === "caller")?.text).toBe(transferAnswered.lines[0]);
    const returned = (await recordsOf(reports.get("returned")!.call_sid))[0]!;
    expect(returned.transfer).toMatchObject({ outcome: "no-answer", returnedToAgent: true });
    expect(returned.conversation.filter((said) => said.speaker === "caller").map((said) => said.text)).toEqual([ASK_FOR_STAFF, RECALL, "תודה רבה, להתראות"]);
  });
});

describe("callers' words in the logs, LOG_TRANSCRIPTS at its default", () => {
  it("the agent heard the ID and both card numbers", () => {
    const report = reports.get("numbers")!;
    expect(report.errors).toEqual([]);
    const heard = (stack.emulators.openai.stats.completions.findLast((completion) => completion.callId === report.call_sid && !isSummaryRequest(completion.messages))?.messages ?? [])
      .filter((message) => message.role === "user")
      .map((message) => message.content);
    expect(heard).toEqual([ID_LINE, CARD_LINE, `[keypad] ${[...KEYED_CARD].join(" ")} #`]);
  });

  it("no core or edge line carries any of them, and the TURN lines keep the rest of the words", async () => {
    const report = reports.get("numbers")!;
    await recordsOf(report.call_sid); // the call's last lines (its record's) are written
    expect(allLines.length).toBeGreaterThan(0);
    for (const digits of [ID, SPOKEN_CARD, KEYED_CARD]) expect(allLines.filter((line) => writtenAnyhow(digits).test(line)), digits).toEqual([]);

    const turns = coreLines.filter((line) => line.json?.message === "TURN" && line.json.call_id === report.call_sid).map((line) => turnLine.parse(line.json));
    expect(turns.map((turn) => [turn.input, turn.transcript, turn.transcript_chars])).toEqual([
      ["speech", 'ת"ז [id]', ID_LINE.length],
      ["speech", "מספר הכרטיס [card]", CARD_LINE.length],
      ["dtmf", "[keypad] [card] #", `[keypad] ${[...KEYED_CARD].join(" ")} #`.length],
    ]);
  });
});

describe("the AI path fails", () => {
  it("a core killed and not coming back: the caller is sent to the fallback number, and the call still has its record", async () => {
    const { vars } = await readWranglerConfig();
    const report = killed;
    expect(report.ended_by).toBe("fallback");
    expect(report.transferred_to).toBe(LOCAL_NUMBERS.FALLBACK_NUMBER);
    expect(report.say_texts.map((said) => said.text)).toEqual([vars.FALLBACK_TEXT]);

    const [record, ...more] = await recordsOf(report.call_sid, doomed);
    expect(more).toEqual([]);
    expect(record).toMatchObject({ endReason: "fallback", summary: null });
    expect(record!.conversation.find((said) => said.speaker === "caller")?.text).toBe("שלום, מה שעות הפתיחה שלכם?");
  });
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
