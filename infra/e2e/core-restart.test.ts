// A call outlives its core: the core process crashes (SIGKILL) or is rolled out (SIGTERM, as Cloud
// Run does) in the middle of an answer, a new core process comes up behind the same URL, and the
// caller's call goes on with the same conversation. Through the whole stack: simulator -> edge in
// workerd -> core processes -> emulators.
import { describe, it, type TestContext } from "vitest";
import { callLine } from "@voice/protocol";
import type { CoreLogLine, CoreProcess } from "../local/core-process.js";
import type { EdgeLogLine } from "../local/edge.js";
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { runCall } from "../sim/call.js";
import type { CallReport } from "../sim/report.js";
import { newSid } from "../sim/twilio-client.js";

/** A long answer: three sentences, ~9 s of speech, time enough for a crashed core to be replaced. */
const ASK_ABOUT = "ספר לי על המרפאה";
/** Two sentences, the first ~4 s: a draining core lets it finish (it waits up to 6 s). */
const ASK_HOURS = "מה שעות הפתיחה?";
const HOURS_FIRST_SENTENCE = "אנחנו פתוחים בימים ראשון עד חמישי, משמונה בבוקר עד שש בערב.";
/** A question only the conversation history can answer: the emulator's model quotes the first one. */
const ASK_RECALL = "מה שאלתי קודם?";
const recallAnswer = (first: string) => `שאלת קודם: ${first}`;

/**
 * The two tests run side by side, each on its own stack, but the rollout's call starts only once the
 * crash's new core is up (or that test is over, or not run at all): two cores starting at once on a
 * loaded machine slow each other down, and the rollout's new core must be up before the draining one
 * lets the call go.
 */
const CRASH_TEST = "survives a crash: the edge holds the caller, a new core takes the call over with its history";
let crashedCoreReplaced!: () => void;
const crashedCoreReplacedOrGivenUp = new Promise<void>((resolve) => (crashedCoreReplaced = resolve));

/** Resolves with the first line the core writes (or has written) that passes `test`. */
function coreLine(core: CoreProcess, test: (line: CoreLogLine) => boolean): Promise<CoreLogLine> {
  const found = core.lines.find(test);
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => core.onLine((line) => test(line) && resolve(line)));
}

const isTurnOne = (callSid: string) => (line: CoreLogLine) => line.json?.message === "TURN" && line.json.call_id === callSid && line.json.turn === 1;

/** A test's own stack, stopped when the test ends. */
async function startRestartableStack(lines: string[], edgeLines: EdgeLogLine[], onTestFinished: TestContext["onTestFinished"]): Promise<Stack> {
  // A core restarting on a loaded machine can leave the caller waiting past IDLE_REPROMPT_MS (8 s) for
  // the next answer, and a reprompt would then take its place; the silence watch is tested elsewhere
  // (infra/e2e/call-control.test.ts), these tests are about the move.
  const stack = await startStack({ emulators: { script: lines }, coreEnv: { IDLE_REPROMPT_MS: "600000" }, onEdgeLine: (line) => edgeLines.push(line) });
  onTestFinished(() => stack.stop());
  return stack;
}

function placeCall(running: Stack, callSid: string, lines: string[]): Promise<CallReport> {
  return runCall({
    url: running.edge.url,
    authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN,
    script: { language: "he-IL", voice: "he", lines },
    callSid,
    timeoutMs: 30_000,
  });
}

const edgeMessages = (lines: EdgeLogLine[], callSid: string) =>
  lines.filter((line) => line.json?.call_id === callSid).map((line) => String(line.json!.message));

describe.concurrent("a call whose core goes away mid-answer", () => {
  it(CRASH_TEST, async ({ expect, onTestFinished }) => {
    onTestFinished(crashedCoreReplaced);
    const edgeLines: EdgeLogLine[] = [];
    const lines = [ASK_ABOUT, ASK_RECALL];
    const stack = await startRestartableStack(lines, edgeLines, onTestFinished);
    const callSid = newSid("CA");
    const first = stack.core;
    const call = placeCall(stack, callSid, lines);

    // The first answer is being played to the caller when the core dies.
    await coreLine(first, isTurnOne(callSid));
    first.kill("SIGKILL");
    await first.exited;
    const second = await stack.restartCore();
    crashedCoreReplaced();
    const report = await call;

    expect(report.errors).toEqual([]);
    expect(report.turns).toHaveLength(2);
    expect(report.turns[0]!.agent_text.length).toBeGreaterThan(0);
    // Only the handed-over history holds what the caller asked before the crash.
    expect(report.turns[1]!.agent_text).toContain(recallAnswer(ASK_ABOUT));
    // The new core got the call from the edge, and answered its second turn.
    expect(second.lines.some((line) => line.json?.message === "CALL_START" && line.json.call_id === callSid)).toBe(true);
    const messages = edgeMessages(edgeLines, callSid);
    expect(messages).toContain("core link lost");
    expect(messages).toContain("hold phrase played");
    expect(messages).toContain("core re-opened");
    expect(edgeLines.filter((line) => line.json?.severity === "ERROR")).toEqual([]);
  });

  it("survives a rollout: the draining core finishes its sentence, then the call moves to the new core", async ({ expect, onTestFinished, task }) => {
    const edgeLines: EdgeLogLine[] = [];
    const lines = [ASK_HOURS, ASK_RECALL];
    const stack = await startRestartableStack(lines, edgeLines, onTestFinished);
    if (task.suite?.tasks.find((other) => other.name === CRASH_TEST)?.mode === "run") await crashedCoreReplacedOrGivenUp;
    const callSid = newSid("CA");
    const first = stack.core;
    const call = placeCall(stack, callSid, lines);

    // All of the first answer has been sent; its first sentence is playing.
    await coreLine(first, isTurnOne(callSid));
    first.kill("SIGTERM");
    // The draining core closes its listener at once; the new one takes the same port.
    await coreLine(first, (line) => line.json?.message === "APP_STOP");
    const second = await stack.restartCore();
    const report = await call;

    expect(report.errors).toEqual([]);
    // The sentence playing at SIGTERM was heard to its end; the rest of that answer was not.
    expect(report.turns[0]!.agent_text).toBe(HOURS_FIRST_SENTENCE);
    expect(report.clears).toHaveLength(1);
    expect(report.turns[1]!.agent_text).toContain(recallAnswer(ASK_HOURS));
    expect(await first.exited).toBe(0);
    const moved = first.lines.find((line) => line.json?.message === "CALL" && line.json.call_id === callSid);
    expect(callLine.parse(moved!.json).end_reason).toBe("moved");
    expect(second.lines.some((line) => line.json?.message === "CALL_START" && line.json.call_id === callSid)).toBe(true);
    expect(edgeMessages(edgeLines, callSid)).toContain("core moves the call");
    expect(edgeMessages(edgeLines, callSid)).toContain("core re-opened");
    expect(edgeMessages(edgeLines, callSid)).not.toContain("hold phrase played");
    expect(edgeLines.filter((line) => line.json?.severity === "ERROR")).toEqual([]);
  });
});
