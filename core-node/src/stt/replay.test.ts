import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import {
  AudioRing,
  MAX_REPLAY_REQUEST_BYTES,
  RETRY_DELAYS_MS,
  RetryEpisode,
  StreamTimeline,
  replayRequests,
  replayStartMs,
  rotationDue,
} from "./replay.js";
import { classifySttError } from "./errors.js";

/** A 20 ms mu-law frame whose bytes all say which frame it is. */
const frame = (n: number) => new Uint8Array(160).fill(n % 256);

describe("AudioRing", () => {
  it("keeps the latest capacity of audio by the caller's clock and returns any span of it", () => {
    const ring = new AudioRing(1000);
    for (let n = 0; n < 100; n++) ring.push(frame(n), n * 20); // 2 s
    expect(ring.endMs).toBe(2000);
    // Only the last second is kept: frames 50..99.
    const kept = ring.framesAfter(0);
    expect(kept).toHaveLength(50);
    expect(kept[0]!.audioMs).toBe(1000);
    // A span is the frames overlapping it, whole.
    const span = ring.between(1210, 1260);
    expect([...new Set(span)]).toEqual([60, 61, 62]);
    expect(ring.between(0, 900)).toHaveLength(0);
  });

  it("gives the frames ending after a point (what a replay from there needs)", () => {
    const ring = new AudioRing(10_000);
    for (let n = 0; n < 10; n++) ring.push(frame(n), n * 20);
    expect(ring.framesAfter(95).map((f) => f.audioMs)).toEqual([80, 100, 120, 140, 160, 180]);
    expect(ring.framesAfter(100).map((f) => f.audioMs)).toEqual([100, 120, 140, 160, 180]);
  });

  it("reads back what was pushed since a position, across the store's wrap", () => {
    const ring = new AudioRing(100); // 800 bytes: five frames
    for (let n = 0; n < 7; n++) ring.push(frame(n), n * 20);
    const from = ring.bytesWritten;
    ring.push(frame(7), 140);
    ring.push(frame(8), 160); // wraps
    expect([...ring.bytesSince(from)]).toEqual([...frame(7), ...frame(8)]);
    expect(ring.framesAfter(0).map((f) => f.bytes[0])).toEqual([4, 5, 6, 7, 8]);
  });

  it("stays bounded over a long call", () => {
    const ring = new AudioRing(30_000);
    for (let n = 0; n < 60 * 60 * 50; n++) ring.push(frame(n), n * 20); // an hour
    expect(ring.framesAfter(0)).toHaveLength(1500);
  });
});

describe("replayRequests", () => {
  it("packs frames into 100 ms requests (far under Google's 25 KB limit), in order, nothing lost", () => {
    const frames = Array.from({ length: 1000 }, (_, n) => ({ audioMs: n * 20, bytes: frame(n) })); // 20 s, 160 KB
    const requests = replayRequests(frames);
    expect(MAX_REPLAY_REQUEST_BYTES).toBeLessThan(25_000);
    expect(requests).toHaveLength(200);
    for (const request of requests) expect(request.length).toBeLessThanOrEqual(MAX_REPLAY_REQUEST_BYTES);
    const joined = Buffer.concat(requests);
    expect(joined.length).toBe(160_000);
    expect(joined[0]).toBe(0);
    expect(joined[160 * 999]).toBe(999 % 256);
    expect(replayRequests([])).toEqual([]);
  });
});

describe("replayStartMs", () => {
  const base = { coveredMs: 0, leadMs: 1000, maxMs: 15_000 };
  it("starts after the last final, a lead before the utterance in progress, or a lead before now", () => {
    expect(replayStartMs({ ...base, coveredMs: 5000, utteranceStartMs: 7000, audioNowMs: 9000 })).toBe(6000);
    expect(replayStartMs({ ...base, coveredMs: 6500, utteranceStartMs: 7000, audioNowMs: 9000 })).toBe(6500);
    // No utterance: older unfinalised audio could not become a turn any more.
    expect(replayStartMs({ ...base, coveredMs: 1000, utteranceStartMs: undefined, audioNowMs: 20_000 })).toBe(19_000);
    // Never longer than the bound.
    expect(replayStartMs({ ...base, coveredMs: 0, utteranceStartMs: 1000, audioNowMs: 40_000 })).toBe(25_000);
  });
});

describe("StreamTimeline", () => {
  it("maps a stream's offsets to the caller's clock across a replay that started mid-call", () => {
    const timeline = new StreamTimeline();
    for (let ms = 6000; ms < 9000; ms += 20) timeline.append(ms, 20); // replay, then live frames follow on
    timeline.append(9000, 20);
    expect(timeline.writtenMs).toBe(3020);
    expect(timeline.toAudioMs(0)).toBe(6000);
    expect(timeline.toAudioMs(2500)).toBe(8500);
  });

  it("follows a jump in the caller's timestamps", () => {
    const timeline = new StreamTimeline();
    timeline.append(0, 1000);
    timeline.append(5000, 1000); // 4 s of the caller's audio never arrived
    expect(timeline.toAudioMs(500)).toBe(500);
    expect(timeline.toAudioMs(1500)).toBe(5500);
  });
});

describe("RetryEpisode", () => {
  it("backs off 200 ms doubling to 1.6 s, four attempts, then is exhausted; a result starts over", () => {
    expect(RETRY_DELAYS_MS).toEqual([200, 400, 800, 1600]);
    const episode = new RetryEpisode();
    // A draw of 0: the schedule's full steps.
    const schedule = [episode.next(0), episode.next(0), episode.next(0), episode.next(0), episode.next(0)];
    expect(schedule).toEqual([
      { attempt: 1, delayMs: 200 },
      { attempt: 2, delayMs: 400 },
      { attempt: 3, delayMs: 800 },
      { attempt: 4, delayMs: 1600 },
      undefined,
    ]);
    expect(episode.reset()).toBe(4);
    expect(episode.next(0)).toEqual({ attempt: 1, delayMs: 200 });
  });

  it("spreads each step by its draw within (half, all] of it, so streams that failed together come back apart", () => {
    const delays = (draw: number) => {
      const episode = new RetryEpisode();
      return RETRY_DELAYS_MS.map(() => episode.next(draw)!.delayMs);
    };
    for (const draw of [0, 0.25, 0.5, 0.75, 0.999_999]) {
      delays(draw).forEach((delay, i) => {
        expect(delay).toBeGreaterThan(RETRY_DELAYS_MS[i]! / 2);
        expect(delay).toBeLessThanOrEqual(RETRY_DELAYS_MS[i]!);
      });
    }
    // The first retry stays fast: between 100 and 200 ms whatever the draw.
    expect(delays(0.999_999)[0]).toBe(101);
    expect(delays(0.25)).toEqual([175, 350, 700, 1400]);
    expect(delays(0.25)).not.toEqual(delays(0.75));
  });
});

describe("classifySttError", () => {
  const grpcError = (code: status, message: string) => Object.assign(new Error(`${code} ${status[code]}: ${message}`), { code });

  it("retries what a new stream can fix", () => {
    for (const code of [status.UNAVAILABLE, status.INTERNAL, status.DEADLINE_EXCEEDED, status.CANCELLED, status.ABORTED]) {
      expect(classifySttError(grpcError(code, "x"))).toEqual({ code: status[code], retryable: true });
    }
    expect(classifySttError(grpcError(status.OUT_OF_RANGE, "Exceeded maximum allowed stream duration of 305 seconds."))).toEqual({
      code: "OUT_OF_RANGE",
      retryable: true,
    });
    expect(classifySttError(grpcError(status.OUT_OF_RANGE, "Audio Timeout Error: Long duration elapsed without audio."))).toMatchObject({ retryable: true });
    expect(classifySttError(new Error("Received RST_STREAM with code 2"))).toEqual({ code: "RESET", retryable: true });
    expect(classifySttError(new Error("read ECONNRESET"))).toEqual({ code: "RESET", retryable: true });
  });

  it("does not retry a bad request or bad credentials", () => {
    for (const code of [status.INVALID_ARGUMENT, status.PERMISSION_DENIED, status.UNAUTHENTICATED, status.NOT_FOUND]) {
      expect(classifySttError(grpcError(code, "x"))).toEqual({ code: status[code], retryable: false });
    }
  });
});

describe("rotationDue", () => {
  const settings = { rotateMs: 270_000, maxMs: 290_000 };
  it("rotates an old stream when the caller is not speaking, and at the maximum regardless", () => {
    expect(rotationDue(200_000, false, settings)).toBeUndefined();
    expect(rotationDue(270_000, true, settings)).toBeUndefined();
    expect(rotationDue(270_000, false, settings)).toBe("silence");
    expect(rotationDue(290_000, true, settings)).toBe("max_age");
  });
});
