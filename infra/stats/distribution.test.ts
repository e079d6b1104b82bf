import { describe, expect, it } from "vitest";
import { distribution } from "./distribution.js";

describe("distribution", () => {
  it("takes nearest-rank percentiles", () => {
    const d = distribution(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(d).toMatchObject({ n: 200, median: 100, p99: 198, min: 1, max: 200 });
  });
});
