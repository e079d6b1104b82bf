// The soak's verdict, pure: from the samples taken every few seconds while the calls ran, how each
// process's memory and open file descriptors moved, and whether that is a leak. A healthy process
// with the same number of calls up holds steady once its first calls have been replaced: per-call
// buffers are full, caches warm, and every call's teardown gives back what the call took. A leak
// shows as growth with the call turnover: RSS rising steadily (a slope, not GC's sawtooth), or
// descriptors not closed (sockets, files) piling up, and left over once every call has ended.
import { linearFit } from "../../stats/linear-fit.js";

/** What one sample says about one process. */
export interface ProcessSample {
  rss_mb: number;
  fds: number;
  /** Calls the process holds at that moment (each holds its sockets: subtracted before comparing). */
  calls: number;
}

export interface SoakSample {
  /** Seconds since the first call was placed (whole seconds). */
  t_s: number;
  /** Simulated calls in progress (placing, talking or hanging up). */
  calls_up: number;
  core: ProcessSample;
  edge: ProcessSample;
  core_cpu_percent: number;
  edge_cpu_percent: number;
  /** Both CPUs of the machine together = 100%. */
  machine_cpu_percent: number;
  /** The core's event-loop lag since the previous sample (/health round trip minus the idle one). */
  core_lag_p99_ms: number | null;
  core_lag_max_ms: number | null;
}

export interface Windows {
  /** Steady state begins: every slot has a call up and the first calls are a minute old. */
  startFrom: number;
  startTo: number;
  /** The last stretch before new calls stop, still with every slot's call up. */
  endFrom: number;
  endTo: number;
  /**
   * RSS slope is fitted from here to endTo, once the first calls have been replaced (before that,
   * memory rises as the calls' buffers fill); null when that leaves too short a stretch to tell a
   * slope from the GC's sawtooth.
   */
  slopeFrom: number | null;
}

/** RSS is judged from minute 2 on, over at least 2 minutes: a run places calls for 4 minutes or more. */
const SLOPE_FROM_S = 120;
const SLOPE_MIN_S = 120;

/** Windows (seconds since the first call) for a run that places calls for `seconds`. */
export function soakWindows(seconds: number): Windows {
  const width = 30;
  return {
    startFrom: 60,
    startTo: 60 + width,
    endFrom: seconds - width,
    endTo: seconds,
    slopeFrom: seconds - SLOPE_FROM_S >= SLOPE_MIN_S ? SLOPE_FROM_S : null,
  };
}

export interface Growth {
  start: { rss_mb: number; fds: number; calls: number };
  end: { rss_mb: number; fds: number; calls: number };
  /** Least-squares slope of RSS over [slopeFrom, endTo]; null when the run is too short to judge it. */
  rss_slope_mb_per_min: number | null;
  /** Median (fds − sockets of the calls held) at the end minus at the start. */
  fds_growth: number;
}

export interface LeakLimits {
  rssSlopeMbPerMin: number;
  /** Descriptors the process may hold beyond its calls' own at the end, more than at the start. */
  fdsGrowth: number;
  /** Descriptors each call holds in this process (a socket per WebSocket). */
  fdsPerCall: number;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** How one process's memory and descriptors moved between the windows. */
export function growth(samples: ProcessSample[], times: number[], windows: Windows, fdsPerCall: number): Growth {
  const within = (from: number, to: number) => samples.filter((_, i) => times[i]! >= from && times[i]! <= to);
  const summary = (part: ProcessSample[]) => ({
    rss_mb: round1(median(part.map((s) => s.rss_mb))),
    fds: median(part.map((s) => s.fds)),
    calls: median(part.map((s) => s.calls)),
  });
  const beyondCalls = (part: ProcessSample[]) => median(part.map((s) => s.fds - fdsPerCall * s.calls));
  const startPart = within(windows.startFrom, windows.startTo);
  const endPart = within(windows.endFrom, windows.endTo);
  const { slopeFrom } = windows;
  const slopePoints = slopeFrom === null ? [] : samples.flatMap((s, i) => (times[i]! >= slopeFrom && times[i]! <= windows.endTo ? [{ x: times[i]! / 60, y: s.rss_mb }] : []));
  return {
    start: summary(startPart),
    end: summary(endPart),
    rss_slope_mb_per_min: slopePoints.length >= 2 ? Math.round(linearFit(slopePoints).slope * 100) / 100 : null,
    fds_growth: beyondCalls(endPart) - beyondCalls(startPart),
  };
}

/** Why `name`'s figures are a leak; empty when they are not. */
export function leaks(name: string, figures: Growth, limits: LeakLimits): string[] {
  const found: string[] = [];
  if (!Number.isFinite(figures.fds_growth)) return [`${name}: no samples in the start or end window (run at least 2 minutes)`];
  if (figures.rss_slope_mb_per_min !== null && figures.rss_slope_mb_per_min > limits.rssSlopeMbPerMin) {
    found.push(`${name}: RSS grows ${figures.rss_slope_mb_per_min} MB/min with the calls held steady (limit ${limits.rssSlopeMbPerMin})`);
  }
  if (figures.fds_growth > limits.fdsGrowth) {
    found.push(`${name}: ${figures.fds_growth} more open descriptors at the end than at the start with the same calls up (limit ${limits.fdsGrowth})`);
  }
  return found;
}

/** Descriptors left over once every call has ended, against the idle process before the first call. */
export function leftoverFds(name: string, idleBefore: number, idleAfter: number, slack: number): string[] {
  return idleAfter - idleBefore > slack ? [`${name}: ${idleAfter - idleBefore} more open descriptors after every call ended than before the first (limit ${slack})`] : [];
}
