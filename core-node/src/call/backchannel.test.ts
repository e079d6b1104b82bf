// Backchannels through the real emulators: a caller's "כן" or a cough while the agent talks does not
// cut it off and is not a turn; the same "כן" when the agent is silent is a turn; a long run of them
// does interrupt, and when it turns out to be only "yes" the agent goes on where it was cut. The
// speech emulator's script makes the caller's utterances say exactly that.
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { bargeInLine, callLine, turnLine } from "@voice/protocol";
import { NO_SPECULATION, callerSpeech, noiseBurst, startCore, type CoreUnderTest } from "../../testing/core-harness.js";

const QUESTION = "שלום, מה שעות הפתיחה שלכם?";
const YES = "כן";
const YES_YES = "כן כן כן כן כן";

let core: CoreUnderTest;
/** The sentences of answer 2 among mark names ("2.<seq>:<sentence>"), in order. */
const sentencesOfTurn2 = (names: string[]) => names.flatMap((name) => (/^2\.\d+:/.test(name) ? [name.slice(name.indexOf(":") + 1)] : []));
const speech = new Map<string, Uint8Array>();

beforeAll(async () => {
  // Utterance k of a call is transcribed as script[k].
  // The test counts LLM requests.
  core = await startCore({ debug: true, emulators: { script: [QUESTION, YES, YES, YES_YES] }, env: NO_SPECULATION });
  for (const line of [QUESTION, YES, YES_YES]) speech.set(line, await callerSpeech(line));
});

afterAll(async () => {
  await core?.close();
});

it("'כן' and a cough during an answer neither interrupt nor make a turn; 'כן' after it does; a long run of them interrupts, then the agent goes on where it was cut", async () => {
  const { logs, emulators } = core;
  const call = await core.open("CA-yes");
  call.begin(true);
  call.echo("greeting");
  const requests = emulators.openai.stats.requests;

  await call.say(speech.get(QUESTION)!, 300);
  await call.markStarting("1.1:");
  // While the first sentence plays: "כן", then a cough.
  await call.say(speech.get(YES)!, 200);
  await logs.next("backchannel", { call_id: "CA-yes" });
  await call.say(noiseBurst(150), 600);
  await logs.next("utterance too short", { call_id: "CA-yes" });
  expect(call.clears()).toBe(0);
  expect(logs.find("BARGE_IN", { call_id: "CA-yes" })).toEqual([]);
  expect(emulators.openai.stats.requests).toBe(requests + 1);

  // The answer plays to its end, then "כן" is an answer to the agent: a turn.
  await call.echoOf("1.end");
  expect(call.marks().filter((name) => name.startsWith("1."))).toHaveLength(3); // two sentences and the end mark
  await call.say(speech.get(YES)!, 300);
  const second = turnLine.parse(await logs.next("TURN", { call_id: "CA-yes", turn: 2 }));
  expect(second).toMatchObject({ transcript: YES, interrupted: false });

  // Over that answer, "כן כן כן…" goes on past BACKCHANNEL_MAX_MS: the agent stops.
  await call.markStarting("2.1:");
  const requestsBeforeRun = emulators.openai.stats.requests;
  void call.say(speech.get(YES_YES)!, 0);
  await call.next((frame) => frame.event === "clear");
  const sentBeforeClear = call.marks().length;
  const heard = sentencesOfTurn2(call.echoed.filter((name) => !call.released.includes(name)));
  const bargeIn = bargeInLine.parse(await logs.next("BARGE_IN", { call_id: "CA-yes" }));
  expect(bargeIn).toMatchObject({ reason: "long_speech", turn: 2 });
  expect(bargeIn.voiced_ms).toBeGreaterThanOrEqual(core.app.config.BACKCHANNEL_MAX_MS);

  // By its final the run was only "yes": no turn, and the agent goes on from the first sentence the
  // caller did not hear, as it was written (no new LLM request).
  const writtenSentences = sentencesOfTurn2(call.marks().slice(0, sentBeforeClear));
  await logs.next("barge-in came to no words; the answer goes on", { call_id: "CA-yes" });
  // The resumed answer ends with its own end mark (the clear returned the first one unplayed).
  await vi.waitFor(() => expect(call.marks().slice(sentBeforeClear)).toContain("2.end"), { timeout: 20_000, interval: 50 });
  const resumed = sentencesOfTurn2(call.marks().slice(sentBeforeClear));
  expect(resumed.length).toBeGreaterThan(0);
  expect([...heard, ...resumed]).toEqual(writtenSentences.slice(0, heard.length + resumed.length));
  expect(emulators.openai.stats.requests).toBe(requestsBeforeRun);
  expect(logs.find("TURN", { call_id: "CA-yes", turn: 3 })).toEqual([]);

  await call.hangUp();
  const summary = callLine.parse(await logs.next("CALL", { call_id: "CA-yes" }));
  expect(summary).toMatchObject({ backchannels: 1, barge_ins: 1 });
  expect(summary.turns).toBeGreaterThanOrEqual(2);
  expect(
    emulators.openai.stats.lastMessages.filter((m) => m.role === "user").slice(0, 2).map((m) => m.content),
  ).toEqual([QUESTION, YES]);
});
