// One soak sample every few seconds: the core's and workerd's memory, descriptors and CPU since the
// previous sample, the machine's CPU, the calls up on both sides, and the core's event-loop lag.
import { coreHealth } from "../../local/core-process.js";
import type { LagProbe } from "./lag-probe.js";
import { processFigures, type ProcessFigures } from "./process-figures.js";
import { machineCpuMs } from "./proc.js";
import type { SoakSample } from "./soak-verdict.js";
import { distribution } from "../../stats/distribution.js";

export interface SampledProcesses {
  corePids: number[];
  edgePids: number[];
  /** The core's base URL: GET /health says how many calls it holds (to a health token signed with `coreSecret`). */
  coreUrl: string;
  coreSecret: string;
  probe: LagProbe;
  /** The idle /health round trip, subtracted from every probe's. */
  idleRoundTripMs: number;
}

export class SoakSampler {
  readonly samples: SoakSample[] = [];
  /** Every lag measured (ms over the idle round trip), with the time of the sample that took it. */
  private readonly lags: { t: number; lag: number[] }[] = [];
  private previous: { at: number; core: ProcessFigures; edge: ProcessFigures; machine: { busy: number; total: number } };

  constructor(
    private readonly processes: SampledProcesses,
    /** performance.now() of the first call: samples are timed from it. */
    private readonly startedAt: number,
  ) {
    this.previous = { at: startedAt, core: processFigures(processes.corePids), edge: processFigures(processes.edgePids), machine: machineCpuMs() };
  }

  /** Takes a sample; `callsUp` is the simulator's count of calls in progress. */
  async take(callsUp: number): Promise<SoakSample> {
    const { corePids, edgePids, coreUrl, coreSecret, probe, idleRoundTripMs } = this.processes;
    const at = performance.now();
    const core = processFigures(corePids);
    const edge = processFigures(edgePids);
    const machine = machineCpuMs();
    const health = (await coreHealth(coreUrl, coreSecret)) as { status: string; active_calls: number };
    const lag = (await probe.take()).map((trip) => Math.max(0, trip - idleRoundTripMs));
    // Whole seconds: a sample due at 120 s that a busy event loop took at 120.2 s still closes the 120 s window.
    const t = Math.round((at - this.startedAt) / 1000);
    this.lags.push({ t, lag });
    const percent = (from: ProcessFigures, to: ProcessFigures) => Math.round(((to.cpuMs - from.cpuMs) / (at - this.previous.at)) * 1000) / 10;
    const summary = lag.length > 0 ? distribution(lag) : undefined;
    const sample: SoakSample = {
      t_s: t,
      calls_up: callsUp,
      core: { rss_mb: core.rssMb, fds: core.fds, calls: health.active_calls },
      edge: { rss_mb: edge.rssMb, fds: edge.fds, calls: callsUp },
      core_cpu_percent: percent(this.previous.core, core),
      edge_cpu_percent: percent(this.previous.edge, edge),
      machine_cpu_percent: Math.round(((machine.busy - this.previous.machine.busy) / (machine.total - this.previous.machine.total)) * 100),
      core_lag_p99_ms: summary?.p99 ?? null,
      core_lag_max_ms: summary?.max ?? null,
    };
    this.previous = { at, core, edge, machine };
    this.samples.push(sample);
    return sample;
  }

  /** The lags measured by the samples taken within [fromS, toS]. */
  lagsBetween(fromS: number, toS: number): number[] {
    return this.lags.filter((l) => l.t >= fromS && l.t <= toS).flatMap((l) => l.lag);
  }
}
