// Turn-taking on real recorded speech (infra/speech/corpus): a caller who pauses in the middle of a
// sentence. The speech emulator is given each item's own words with their timings, so it transcribes
// what the recording says, word by word as the audio reaches each word. LANGUAGE is en-US: the corpus
// is English (Debian packages no Hebrew recordings).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bargeInLine, callLine, turnLine } from "@voice/protocol";
import { ENGLISH_CORE_ENV } from "../../../infra/local/english.js";
import { turnTakingItems, type TurnTakingItem } from "../../../infra/speech/corpus/items.js";
import { NO_SPECULATION, startCore, type CoreUnderTest } from "../../testing/core-harness.js";

let core: CoreUnderTest;
const items = new Map(turnTakingItems().map((item) => [item.id, item]));
const item = (id: string): TurnTakingItem => items.get(id) ?? expect.unreachable(`no corpus item ${id}`);

beforeAll(async () => {
  core = await startCore({ env: { ...NO_SPECULATION, ...ENGLISH_CORE_ENV } });
});

afterAll(async () => {
  await core?.close();
});

/**
 * Plays `spoken` as the caller of a new call whose greeting was heard; resolves once all of it was
 * sent. `stall`: the network holds the caller's frames for `ms` from `atMs` into the item, then
 * delivers them at once.
 */
async function call(callSid: string, spoken: TurnTakingItem, stall?: { atMs: number; ms: number }) {
  core.emulators.speech.registerScript(callSid, spoken.lines);
  const link = await core.open(callSid);
  link.begin(true);
  link.echo("greeting");
  const delivered = stall && link.stallAt(link.audioSentMs + stall.atMs, stall.ms);
  await link.say(spoken.audio, 0);
  await delivered;
  return link;
}

// The calls are independent (each its own CallSid and script): they run side by side.
describe.concurrent("a pause inside a sentence, on real speech", () => {
  it("after 'at' (800 ms, over line noise): the end of utterance waits, and the whole sentence is one turn", async () => {
    const spoken = item("tuesday-at-nine/800ms/noise");
    const link = await call("CA-held", spoken);
    const turn = turnLine.parse(await core.logs.next("TURN", { call_id: "CA-held" }));
    expect(turn).toMatchObject({ turn: 1, transcript: spoken.text, pauses_held: 1, EOU_HOLD_MS: 0 });
    await link.hangUp();
    expect(callLine.parse(await core.logs.next("CALL", { call_id: "CA-held" }))).toMatchObject({ turns: 1, barge_ins: 0 });
    expect(core.logs.find("TURN", { call_id: "CA-held" })).toHaveLength(1);
  });

  it("where the words give no sign (800 ms after 'you have'): the turn is taken, then taken back when the caller goes on, and the whole is answered once", async () => {
    const spoken = item("you-have-messages/800ms/clean");
    const link = await call("CA-recovered", spoken);
    const resumed = bargeInLine.parse(await core.logs.next("BARGE_IN", { call_id: "CA-recovered" }));
    expect(resumed).toMatchObject({ reason: "resumed", turn: 1, heard_sentences: 0 });
    const turn = turnLine.parse(await core.logs.next("TURN", { call_id: "CA-recovered" }));
    expect(turn).toMatchObject({ turn: 1, transcript: spoken.text, recovered_cutoff: true });
    // The conversation the edge keeps has the whole sentence as the caller's one message: the early
    // turn's words were taken back with its answer.
    const history = link.states.at(-1)!.history;
    expect(history.filter((message) => message.role === "user").map((message) => message.content)).toEqual([spoken.text]);
    await link.hangUp();
    expect(callLine.parse(await core.logs.next("CALL", { call_id: "CA-recovered" }))).toMatchObject({ turns: 1, recovered_cutoffs: 1 });
    expect(core.logs.find("TURN", { call_id: "CA-recovered" })).toHaveLength(1);
  });

  it("a network stall inside the held pause (2 s of frames held, then delivered at once): no frame lost, still one turn", async () => {
    const spoken = item("tuesday-at-nine/800ms/clean");
    const pause = spoken.gaps.find((gap) => gap.kind === "continue")!;
    const link = await call("CA-stalled", spoken, { atMs: pause.startMs + 300, ms: 2000 });
    const turn = turnLine.parse(await core.logs.next("TURN", { call_id: "CA-stalled" }));
    expect(turn).toMatchObject({ turn: 1, transcript: spoken.text, pauses_held: 1 });
    const sent = link.audioSentMs / 20;
    await link.hangUp();
    const summary = callLine.parse(await core.logs.next("CALL", { call_id: "CA-stalled" }));
    expect(summary).toMatchObject({ turns: 1, dropped_frames: 0, recovered_cutoffs: 0 });
    expect(summary.frames_in).toBe(sent);
  });
});
