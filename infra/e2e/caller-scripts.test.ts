// Honest caller scripts through the whole stack (simulator -> edge in workerd -> core process ->
// emulators): each simulated call registers its own lines with the speech emulator before it starts,
// so two calls at once are each transcribed as what their caller said, and the agent answers those
// words; the booking script ends in a booking the booking service really holds.
import { isSummaryRequest } from "../local/emulators/chat-summary.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import bookingScript from "../local/scripts/booking.he.json" with { type: "json" };
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { runCall } from "../sim/call.js";
import { fetchCoreTurns, withCoreTools } from "../sim/core-turns.js";
import { summarize } from "../sim/report.js";
import type { CallerScript } from "../sim/script.js";

/** The speech emulator's default lines: what a call would be heard saying had it registered nothing. */
const DEFAULT_LINES = ["שורה שאף מתקשר לא אמר"];
const RECALL = "מה שאלתי?";

const script = (lines: string[]): CallerScript => ({ language: "he-IL", voice: "he", lines });

let stack: Stack;

beforeAll(async () => {
  const quiet = { log: () => {} };
  stack = await startStack({ emulators: { script: DEFAULT_LINES, speech: quiet, tts: quiet, openai: quiet }, booking: true, onEdgeLine: () => {} });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const call = (caller: CallerScript) =>
  runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script: caller, scriptRegistry: stack.emulators.scriptRegistry.url, timeoutMs: 20_000 });

/** The user messages of the call's last chat request: the conversation as the core heard it. */
const heard = (callSid: string) =>
  (stack.emulators.openai.stats.completions.findLast((completion) => completion.callId === callSid && !isSummaryRequest(completion.messages))?.messages ?? [])
    .filter((message) => message.role === "user")
    .map((message) => message.content);

// Each test places its own calls (its own CallSids, scripts and booking) on the shared stack: they run side by side.
describe.concurrent("caller scripts registered per call, through the stack", () => {
  it("transcribes two concurrent calls each as its own caller's lines, and the agent answers those words", async () => {
    const first = ["מה שעות הפתיחה שלכם?", RECALL];
    const second = ["שלום, מה שלומך?", RECALL];
    const [one, two] = await Promise.all([call(script(first)), call(script(second))]);

    for (const [report, lines] of [
      [one, first],
      [two, second],
    ] as const) {
      expect(report.errors).toEqual([]);
      expect(report.turns.map((turn) => turn.caller_text)).toEqual(lines);
      expect(heard(report.call_sid)).toEqual(lines);
      // The recall answer quotes the call's own first line: only what was transcribed can be quoted.
      expect(report.turns[1]!.agent_text).toBe(`שאלת קודם: ${lines[0]}`);
      expect(stack.emulators.speech.stats.calls.get(report.call_sid)).toMatchObject({ linesFinalised: 2 });
    }
    expect(one.turns[0]!.agent_text).toMatch(/פתוחים/);
  });

  it("books through infra/local/scripts/booking.he.json: find_slots, the offered slot booked on 'yes', then goodbye", async () => {
    const report = await call(script(bookingScript.lines));
    expect(report.errors).toEqual([]);
    expect(heard(report.call_sid)).toEqual(bookingScript.lines);

    const tools = stack.emulators.openai.stats.tools.get(report.call_sid);
    // The goodbye's end_call may be asked for twice: a speculative answer on the caller's partial may
    // not end the call (only a committed turn does), so the answer to the final asks again.
    const asked = tools?.calls.map((toolCall) => toolCall.name) ?? [];
    expect(asked.slice(0, 3)).toEqual(["find_slots", "book", "end_call"]);
    expect(asked.slice(3).every((name) => name === "end_call")).toBe(true);
    const { slot } = JSON.parse(tools!.calls[1]!.arguments) as { slot: string };
    const [date, time] = slot.split("T");
    expect(report.turns[0]!.agent_text).toBe(`יש תור פנוי ב-${date} בשעה ${time}. לקבוע אותו?`);
    expect(report.turns[1]!.agent_text).toBe(`קבעתי לך תור ל-${date} בשעה ${time}.`);
    expect(report.turns[2]!.agent_text).toMatch(/להתראות/);

    const appointments = (await (await fetch(`${stack.booking!.url}/appointments`)).json()) as { slot: string; callSid: string }[];
    expect(appointments.filter((appointment) => appointment.callSid === report.call_sid).map((appointment) => appointment.slot)).toEqual([slot]);

    // What `npm run call -- --json` prints: each line's answer with the tools the core logged for it.
    const summary = withCoreTools(summarize(report), await fetchCoreTurns(stack.emulators.scriptRegistry.url, report.call_sid));
    expect(summary.turns.map((turn) => turn.tools?.map((tool) => [tool.name, tool.ok]))).toEqual([[["find_slots", true]], [["book", true]], [["end_call", true]]]);
    expect(summary.turns[1]!.tools![0]!.ms).toBeGreaterThan(0);
  });
});
