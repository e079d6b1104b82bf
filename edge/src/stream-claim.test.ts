import { describe, expect, it } from "vitest";
import { STREAM_LEASE_MS, claimStream, releases } from "./stream-claim.js";

describe("one live stream per call", () => {
  it("the first claim holds the call; another holder is refused while the lease runs, the holder renews, anyone may claim once it ran out", () => {
    const first = claimStream(undefined, "MZa/1", 1000);
    expect(first).toEqual({ ok: true, hold: { holder: "MZa/1", until: 1000 + STREAM_LEASE_MS } });
    const hold = first.ok ? first.hold : undefined;
    // A replayed start is another socket, hence another holder, even with the same StreamSid.
    expect(claimStream(hold, "MZa/2", 2000)).toEqual({ ok: false, holder: "MZa/1" });
    expect(claimStream(hold, "MZa/1", 20_000)).toMatchObject({ ok: true, hold: { until: 20_000 + STREAM_LEASE_MS } });
    expect(claimStream(hold, "MZb/3", 1000 + STREAM_LEASE_MS + 1)).toMatchObject({ ok: true, hold: { holder: "MZb/3" } });
  });

  it("only the holder lets the call go", () => {
    const hold = { holder: "MZa/1", until: 5000 };
    expect(releases(hold, "MZa/1")).toBe(true);
    expect(releases(hold, "MZa/2")).toBe(false);
    expect(releases(undefined, "MZa/1")).toBe(false);
  });
});
