import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { STREAM_LIMIT_DETAILS } from "./grpc-host.js";
import { HUGE_TRANSCRIPT_CHARS, type MalformedResultShape } from "./speech.js";
import { PHONE_CONFIG, SCRIPT, concat, durationMs, emulatorPool, finals, openStream, silence, spoken, streamAudio, utterances } from "./speech-test-kit.js";

let lines: Uint8Array[];
const pool = emulatorPool();
const start = pool.start;

beforeAll(async () => {
  lines = await Promise.all(SCRIPT.map(spoken));
});
afterAll(() => pool.closeAll());

describe("speech emulator faults, as the real SpeechClient sees them", () => {
  it("ends queued streams with each status, in Google's words, and the next stream is healthy", async () => {
    const { emulator, client } = await start();
    const codes = [grpc.status.UNAVAILABLE, grpc.status.INTERNAL, grpc.status.DEADLINE_EXCEEDED, grpc.status.OUT_OF_RANGE];
    for (const code of codes) emulator.injectFault({ code, afterAudioMs: 200 });

    const seen = [];
    for (let i = 0; i <= codes.length; i++) {
      const { error } = await streamAudio(client, silence(400));
      seen.push(error && { code: error.code, details: error.details });
    }
    expect(seen).toEqual([
      { code: grpc.status.UNAVAILABLE, details: "The service is currently unavailable." },
      { code: grpc.status.INTERNAL, details: "Internal error encountered." },
      { code: grpc.status.DEADLINE_EXCEEDED, details: "Deadline Exceeded" },
      { code: grpc.status.OUT_OF_RANGE, details: "Exceeded maximum allowed stream duration of 305 seconds." },
      undefined,
    ]);
    expect(STREAM_LIMIT_DETAILS).toBe("Exceeded maximum allowed stream duration of 305 seconds.");
    expect(emulator.stats).toMatchObject({ streamsOpened: 5, streamsEnded: 5, faultsInjected: 4, faultsByKind: { status: 4 } });
  });

  it("fails only the nth stream from now on", async () => {
    const { emulator, client } = await start();
    emulator.injectFault({ code: grpc.status.UNAVAILABLE, details: "connection reset" }, { nth: 2 });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await streamAudio(client, silence(100))).error?.details);
    expect(codes).toEqual([undefined, "connection reset", undefined]);
  });

  it("resets a stream with RST_STREAM: the client sees INTERNAL, and other streams on the connection carry on", async () => {
    const { emulator, client } = await start();
    emulator.injectFault({ kind: "reset", afterAudioMs: 300 }, { callId: "CA-reset" });
    // Another call's stream is open on the same HTTP/2 connection throughout.
    const bystander = openStream(client, { callId: "CA-bystander" });
    bystander.send(silence(200));

    const reset = await streamAudio(client, silence(600), { callId: "CA-reset" });
    expect(reset.error).toMatchObject({ code: grpc.status.INTERNAL, details: "Received RST_STREAM with code 2 (Internal server error)" });

    bystander.send(concat([lines[0]!, silence(400)]));
    bystander.halfClose();
    expect(await bystander.outcome).toBeUndefined();
    expect(finals(bystander.results)).toEqual([SCRIPT[0]]);
    expect(emulator.stats.calls.get("CA-reset")!.streams).toEqual([
      expect.objectContaining({ fault: "reset", faultFired: true, ending: "RST_STREAM", audioMs: 300 }),
    ]);
    expect(emulator.stats.calls.get("CA-bystander")).toMatchObject({ faultsInjected: 0, streams: [expect.objectContaining({ ending: "OK" })] });
  });

  it("stalls mid-utterance: no final and no end until the client's deadline, and the line stays the caller's", async () => {
    const { emulator, client } = await start();
    const speechMs = durationMs(lines[0]!);
    emulator.injectFault({ kind: "stall", afterAudioMs: speechMs - 200 });

    const stalled = await streamAudio(client, concat([lines[0]!, silence(600)]), { callId: "CA-stall", timeoutMs: 800 });
    expect(stalled.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // Whichever deadline timer fires first, the client's or the server's: grpc-js words them differently.
    expect(stalled.error?.details).toMatch(/^Deadline exceeded( after \d|$)/);
    // Partials came until the stall, then nothing.
    expect(stalled.results.length).toBeGreaterThan(0);
    expect(stalled.results.every((r) => !r.isFinal && r.endMs <= speechMs - 200)).toBe(true);

    // The utterance was never finalised, so replayed into a new stream it is still the first line.
    const replayed = await streamAudio(client, concat([lines[0]!, silence(600)]), { callId: "CA-stall" });
    expect(finals(replayed.results)).toEqual([SCRIPT[0]]);
    expect(emulator.stats.calls.get("CA-stall")!.streams.map((s) => [s.fault, s.ending])).toEqual([
      ["stall", "CANCELLED"],
      [undefined, "OK"],
    ]);
  });

  it("delays every response by delayMs when slow, without the delays adding up", async () => {
    const { emulator, client } = await start();
    emulator.injectFault({ kind: "slow", delayMs: 400 });
    const { results, sentAt, error } = await streamAudio(client, concat([lines[0]!, silence(600)]));
    expect(error).toBeUndefined();
    expect(finals(results)).toEqual([SCRIPT[0]]);
    expect(results.length).toBeGreaterThan(3);
    // The audio is all sent at once: without the fault every result would follow within milliseconds.
    expect(results[0]!.receivedAt - sentAt).toBeGreaterThanOrEqual(390);
    expect(results.at(-1)!.receivedAt - sentAt).toBeLessThan(400 + 1500);
    expect(emulator.stats.faultsByKind.slow).toBe(1);
  });

  it("sends the next final malformed as each shape says, in a valid response, and the partials as usual", async () => {
    const { emulator, client } = await start();
    const audio = concat([lines[0]!, silence(600)]);
    type Response = { results: { alternatives: { transcript: string }[]; isFinal: boolean; resultEndTime: { seconds: string; nanos: number } }[] };
    /** The final of a stream given `shape`, as the client decoded it, and its partials' texts. */
    const malformed = async (shape: MalformedResultShape) => {
      emulator.injectFault({ kind: "malformed", shape });
      const stream = client.streamingRecognize(PHONE_CONFIG);
      const responses: Response[] = [];
      const ended = new Promise<void>((resolve, reject) => {
        stream.on("data", (response: Response) => responses.push(response));
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      for (let at = 0; at < audio.length; at += 160) stream.write(audio.subarray(at, at + 160));
      stream.end();
      await ended;
      const results = responses.flatMap((response) => response.results);
      const finalsSeen = results.filter((result) => result.isFinal);
      expect(finalsSeen, shape).toHaveLength(1);
      const partials = results.filter((result) => !result.isFinal).map((result) => result.alternatives[0]!.transcript);
      expect(partials.length, shape).toBeGreaterThan(0);
      for (const partial of partials) expect(SCRIPT[0]!.startsWith(partial), shape).toBe(true);
      return finalsSeen[0]!;
    };

    expect((await malformed("no-alternatives")).alternatives).toEqual([]);
    expect((await malformed("empty-final")).alternatives[0]!.transcript).toBe("");
    expect(Number((await malformed("negative-end")).resultEndTime.seconds)).toBeLessThan(0);
    expect((await malformed("absurd-end")).resultEndTime.seconds).toBe("3000000000");
    const unsent = await malformed("unsent-audio");
    expect(Number(unsent.resultEndTime.seconds) * 1000).toBeGreaterThan(durationMs(audio) + 50_000);
    const huge = (await malformed("huge-transcript")).alternatives[0]!.transcript;
    expect(huge).toHaveLength(HUGE_TRANSCRIPT_CHARS);
    expect(huge.startsWith(`${SCRIPT[0]} ${SCRIPT[0]}`)).toBe(true);
    expect(emulator.stats).toMatchObject({ finalsSent: 6, faultsByKind: { malformed: 6 } });
  });

  it("fails each stream with probability p, the same streams for the same seed", async () => {
    const run = async () => {
      const { emulator, client } = await start({ faults: [{ fault: { code: grpc.status.UNAVAILABLE }, when: { probability: 0.5, seed: 7 } }] });
      const failed: boolean[] = [];
      for (let i = 0; i < 12; i++) failed.push((await streamAudio(client, silence(100))).error?.code === grpc.status.UNAVAILABLE);
      return { failed, injected: emulator.stats.faultsInjected };
    };
    const first = await run();
    const second = await run();
    expect(second.failed).toEqual(first.failed);
    const count = first.failed.filter(Boolean).length;
    expect(count).toBeGreaterThan(1);
    expect(count).toBeLessThan(11);
    expect(first.injected).toBe(count);
  });

  it("clears faults: the schedule, and an open stream's fault that has not fired yet", async () => {
    const { emulator, client } = await start();
    emulator.injectFault({ code: grpc.status.UNAVAILABLE }, { probability: 1 });
    expect((await streamAudio(client, silence(100))).error?.code).toBe(grpc.status.UNAVAILABLE);

    emulator.injectFault({ code: grpc.status.INTERNAL, afterAudioMs: 500 }, { times: 1 });
    const open = openStream(client);
    open.send(silence(200));
    // The stream drew its fault when it opened.
    await vi.waitFor(() => expect(emulator.stats.streamsOpened).toBe(2));
    emulator.clearFaults();
    open.send(silence(800));
    open.halfClose();
    expect(await open.outcome).toBeUndefined();
    expect((await streamAudio(client, silence(100))).error).toBeUndefined();
    expect(emulator.stats.faultsInjected).toBe(1);
  });
});

describe("a call's script across its streams (x-call-id)", () => {
  it("gives a line cut short by a failure again when its audio is replayed, and the next line after it", async () => {
    const { emulator, client } = await start();
    const [one, two, three] = lines as [Uint8Array, Uint8Array, Uint8Array];
    // Stream A fails half-way through the second utterance; only call CA-1's streams are targeted.
    emulator.injectFault({ code: grpc.status.UNAVAILABLE, afterAudioMs: durationMs(one) + 600 + durationMs(two) / 2 }, { callId: "CA-1" });
    const other = await streamAudio(client, concat([one, silence(400)]), { callId: "CA-2" });

    const a = await streamAudio(client, concat([one, silence(600), two, silence(600)]), { callId: "CA-1" });
    expect(a.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(finals(a.results)).toEqual([SCRIPT[0]]);
    const cut = a.results.filter((r) => r.endMs > durationMs(one) + 300);
    expect(cut.length).toBeGreaterThan(0);
    for (const partial of cut) expect(SCRIPT[1]!.startsWith(partial.transcript)).toBe(true);

    // Stream B: the core replays the unfinalised audio (utterance 2), then the caller says line 3.
    const b = await streamAudio(client, concat([two, silence(600), three, silence(600)]), { callId: "CA-1" });
    expect(b.error).toBeUndefined();
    const groups = utterances(b.results);
    expect(groups.map((group) => group.at(-1)!.transcript)).toEqual([SCRIPT[1], SCRIPT[2]]);
    for (const partial of groups[0]!.slice(0, -1)) expect(SCRIPT[1]!.startsWith(partial.transcript)).toBe(true);
    // resultEndTime counts from stream B's own start, as Google's does.
    expect(groups[0]!.at(-1)!.endMs).toBeLessThanOrEqual(durationMs(two) + 20);

    expect(finals(other.results)).toEqual([SCRIPT[0]]);
    expect(emulator.stats.calls.get("CA-1")).toMatchObject({ streamsOpened: 2, streamsEnded: 2, finalsSent: 3, faultsInjected: 1, linesFinalised: 3 });
    expect(emulator.stats.calls.get("CA-1")!.streams.map((s) => s.ending)).toEqual(["UNAVAILABLE", "OK"]);
    expect(emulator.stats.calls.get("CA-2")).toMatchObject({ streamsOpened: 1, faultsInjected: 0, linesFinalised: 1 });
  });

  it("counts a withheld final's utterance as said, and a line taken by a transcription", async () => {
    const { emulator, client } = await start({ script: [{ text: SCRIPT[0]!, withholdFinal: true }, SCRIPT[1]!, SCRIPT[2]!] });
    const [one, , three] = lines as [Uint8Array, Uint8Array, Uint8Array];
    const first = await streamAudio(client, concat([one, silence(600)]), { callId: "CA-3" });
    expect(finals(first.results)).toEqual([]);
    expect(emulator.takePendingLine("CA-3")).toBe(SCRIPT[1]);
    const next = await streamAudio(client, concat([three, silence(600)]), { callId: "CA-3" });
    expect(finals(next.results)).toEqual([SCRIPT[2]]);
    expect(emulator.stats.calls.get("CA-3")).toMatchObject({ finalsWithheld: 1, linesTranscribed: 1, linesFinalised: 3 });
    expect(emulator.takePendingLine("CA-unknown")).toBeUndefined();
  });

  it("starts every stream without the header at the first line", async () => {
    const { client } = await start();
    for (let i = 0; i < 2; i++) expect(finals((await streamAudio(client, concat([lines[1]!, silence(600)]))).results)).toEqual([SCRIPT[0]]);
  });
});
