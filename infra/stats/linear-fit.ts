// A trend through samples: the benchmarks fit cost per call (capacity) and memory growth over time (soak).
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
