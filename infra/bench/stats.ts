// Summaries the benchmarks report: medians and tails over many runs, never a single sample.

export interface Distribution {
  n: number;
  median: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of already sorted values. */
function percentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function distribution(values: number[]): Distribution {
  if (values.length === 0) throw new Error("no samples to summarise");
  const sorted = [...values].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    n: sorted.length,
    median: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    min: round(sorted[0]!),
    max: round(sorted.at(-1)!),
  };
}

/** Least-squares line y = intercept + slope · x through the points. */
export function linearFit(points: { x: number; y: number }[]): { slope: number; intercept: number } {
  if (points.length < 2) throw new Error("a line needs two points");
  const n = points.length;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  const sxx = points.reduce((sum, p) => sum + (p.x - meanX) ** 2, 0);
  const sxy = points.reduce((sum, p) => sum + (p.x - meanX) * (p.y - meanY), 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: meanY - slope * meanX };
}
