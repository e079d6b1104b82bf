// An LLM endpoint answering 200 with a malformed stream, through the real openai SDK and the chat
// emulator: each class on a call of its own, all at once. The turn's request and its retry both get
// the bad stream, so the caller hears the apology phrase (never silence, never the garbage), with the
// reason in the log; the next turn on the same call is answered as usual. Turns are keypad entries,
// so every answer is a known sentence and no speech recognition is involved.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerFor } from "../../../infra/local/emulators/chat-answers.js";
import type { MalformedChatShape } from "../../../infra/local/emulators/openai.js";
import { DEFAULT_FIXED_PHRASES as PHRASES } from "../config.js";
import { NO_SPECULATION, startCore, type CoreUnderTest, type EdgeLink } from "../../testing/core-harness.js";
import { DEFAULT_MAX_ANSWER_CHARS } from "./openai.js";

interface Case {
  shape: MalformedChatShape;
  /** The reason logged; undefined: the answer is usable and the caller hears it. */
  reason?: RegExp;
}

const CASES: Case[] = [
  { shape: "not-json", reason: /^a stream event is not JSON$/ },
  { shape: "no-choices", reason: /^a chunk has no choices list$/ },
  { shape: "non-string-content", reason: /^a chunk's content is a list, not text$/ },
  { shape: "error-event", reason: /The server had an error while processing your request/ },
  { shape: "truncated", reason: /^the stream ended before a finish_reason$/ },
  { shape: "html", reason: /^the answer is "text\/html; charset=utf-8", not an event stream$/ },
  { shape: "huge", reason: new RegExp(`^the answer runs past ${DEFAULT_MAX_ANSWER_CHARS} characters$`) },
  // Everything but [DONE]: the answer finished (finish_reason) and is whole.
  { shape: "no-done" },
];

/** The chat emulator's answer to a keypad entry. */
const keypadAnswer = (keys: string) => answerFor(`[keypad] ${keys}`);

let core: CoreUnderTest;

beforeAll(async () => {
  core = await startCore({ env: NO_SPECULATION });
});

afterAll(async () => {
  await core?.close();
});

/** The caller types `keys`; resolves once the answer (turn `turn`) has played. */
async function keypadTurn(call: EdgeLink, keys: string, turn: number): Promise<void> {
  for (const key of keys) call.key(key);
  await call.mark(`${turn}.end`);
  await call.echoOf(`${turn}.end`);
}

describe("a malformed LLM stream", () => {
  it("ends the turn in the apology phrase with the reason logged, and the call's next turn is answered", async () => {
    const { emulators, logs } = core;
    const callSid = (c: Case) => `CA-llm-malformed-${c.shape}`;
    for (const c of CASES) emulators.openai.injectChatFault({ kind: "malformed", shape: c.shape }, { callId: callSid(c), times: c.reason ? 2 : 1 });
    const requestsBefore = emulators.openai.stats.requests;

    const calls = await Promise.all(CASES.map((c) => core.open(callSid(c))));
    await Promise.all(
      calls.map(async (call) => {
        call.begin(true, { speed: 4 });
        call.echo("greeting");
        await keypadTurn(call, "1#", 1);
        await keypadTurn(call, "2#", 2);
        await call.hangUp();
      }),
    );

    for (const [i, c] of CASES.entries()) {
      const call = calls[i]!;
      const id = callSid(c);
      const marks = (turn: number) => call.marks().filter((mark) => mark.startsWith(`${turn}.`));
      expect(call.closedByCore, c.shape).toBe(false);
      const turn1 = core.logs.find("TURN", { call_id: id, turn: 1 })[0];
      if (c.reason) {
        expect(marks(1), c.shape).toEqual([`1.1:${PHRASES.answer_error}`, "1.end"]);
        expect(turn1, c.shape).toMatchObject({ retries: 1, fallbacks: 1, answer_sentences: 1 });
        const retry = logs.find("LLM failed; retrying", { call_id: id });
        const fallback = logs.find("LLM failed; speaking the fallback phrase", { call_id: id });
        expect(retry, c.shape).toHaveLength(1);
        expect(fallback, c.shape).toHaveLength(1);
        expect(retry[0]!.error, c.shape).toMatch(c.reason);
        expect(fallback[0]!.error, c.shape).toMatch(c.reason);
      } else {
        expect(marks(1), c.shape).toEqual([`1.1:${keypadAnswer("1#")}`, "1.end"]);
        expect(turn1, c.shape).toMatchObject({ retries: 0, fallbacks: 0 });
      }
      expect(marks(2), c.shape).toEqual([`2.1:${keypadAnswer("2#")}`, "2.end"]);
      expect(core.logs.find("TURN", { call_id: id, turn: 2 })[0], c.shape).toMatchObject({ retries: 0, fallbacks: 0 });
      expect(core.logs.find("CALL", { call_id: id })[0], c.shape).toMatchObject({ end_reason: "stop", turns: 2 });
    }
    // Each failing turn cost its request and one retry, no more (the SDK retried nothing itself).
    const requests = CASES.reduce((sum, c) => sum + (c.reason ? 3 : 2), 0);
    expect(emulators.openai.stats.requests - requestsBefore).toBe(requests);
    expect(logs.find("frame handler failed")).toEqual([]);
  });
});
