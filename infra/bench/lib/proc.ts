// What the benchmarks read about processes from /proc (Linux): CPU time, resident memory, the
// machine's busy time, and CPU pinning with taskset. Read from outside, so the measured process runs
// unchanged.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

const CLOCK_TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** user + system CPU, in clock ticks. */
  ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces: fields count from after it.
    const close = text.lastIndexOf(")");
    const fields = text.slice(close + 2).split(" ");
    return { pid, comm: text.slice(text.indexOf("(") + 1, close), ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined; // gone meanwhile
  }
}

/** CPU (user + system, ms, all threads) the process has used so far. Resolution: one clock tick (10 ms). */
export function processCpuMs(pid: number): number {
  const stat = readStat(pid);
  if (!stat) throw new Error(`no process ${pid}`);
  return (stat.ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of the process, in bytes (VmRSS). */
export function processRssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Processes descending from `ancestor` (not itself) whose command name starts with `name`. */
export function descendantPids(ancestor: number, name: string): number[] {
  const stats = readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readStat(Number(entry)))
    .filter((stat) => stat !== undefined);
  const ours = new Set([ancestor]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const stat of stats) if (ours.has(stat.ppid) && !ours.has(stat.pid)) (ours.add(stat.pid), (grew = true));
  }
  return stats.filter((stat) => stat.pid !== ancestor && ours.has(stat.pid) && stat.comm.startsWith(name)).map((stat) => stat.pid);
}

/** CPU (ms) of every workerd process descending from this one. */
export function workerdCpuMs(): number {
  const workerd = descendantPids(process.pid, "workerd");
  if (workerd.length === 0) throw new Error("no workerd process found under this one");
  return workerd.reduce((sum, pid) => sum + processCpuMs(pid), 0);
}

/** Busy and total time of the whole machine so far (ms summed over CPUs), from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  const toMs = (ticks: number) => (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  return { busy: toMs(busy), total: toMs(busy + idle! + iowait!) };
}

/** Pins every thread of process `pid` (and the threads it starts later) to `cpus` (taskset list, e.g. "1"). */
export function pinProcess(pid: number, cpus: string): void {
  execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}

/** The CPUs process `pid` may run on, as a taskset list. */
export function processCpus(pid: number): string {
  const match = /^Cpus_allowed_list:\s+(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no Cpus_allowed_list for process ${pid}`);
  return match[1]!;
}
