import { describe, expect, it } from "vitest";
import { distribution, linearFit } from "./stats.js";

describe("stats", () => {
  it("takes nearest-rank percentiles", () => {
    const d = distribution(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(d).toMatchObject({ n: 200, median: 100, p99: 198, min: 1, max: 200 });
  });

  it("fits a line through points", () => {
    const fit = linearFit([0, 1, 2, 3].map((x) => ({ x: x * 25, y: 145 + 2.5 * x * 25 })));
    expect(fit.slope).toBeCloseTo(2.5);
    expect(fit.intercept).toBeCloseTo(145);
  });
});
