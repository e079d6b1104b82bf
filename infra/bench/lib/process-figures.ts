// A process group's resources read from /proc, from outside (the measured processes run unchanged):
// resident memory, open file descriptors (sockets included: a leaked connection shows here) and CPU.
import { readdirSync } from "node:fs";
import { processCpuMs, processRssBytes } from "./proc.js";

export interface ProcessFigures {
  rssMb: number;
  /** Open file descriptors (/proc/PID/fd entries). */
  fds: number;
  /** user + system CPU so far, ms. */
  cpuMs: number;
}

/** Open file descriptors of process `pid`. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The processes' figures summed (workerd may run as more than one process). */
export function processFigures(pids: number[]): ProcessFigures {
  let rss = 0;
  let fds = 0;
  let cpuMs = 0;
  for (const pid of pids) {
    rss += processRssBytes(pid);
    fds += openFds(pid);
    cpuMs += processCpuMs(pid);
  }
  return { rssMb: Math.round((rss / 1024 / 1024) * 10) / 10, fds, cpuMs };
}
