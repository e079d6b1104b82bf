// A drift-free 20 ms clock: tick n runs at start + n * 20 ms, scheduled against the start time, so
// timer lateness never accumulates; after a stall the missed ticks run at once, as a live line would.
import { FRAME_MS } from "@voice/protocol";

export interface FrameClock {
  stop(): void;
}

/** Calls onTick(n) for n = 0, 1, 2, ... ; tick 0 runs synchronously. */
export function startFrameClock(onTick: (tick: number) => void, frameMs = FRAME_MS): FrameClock {
  const startedAt = performance.now();
  let next = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const run = () => {
    const due = Math.floor((performance.now() - startedAt) / frameMs);
    while (next <= due && !stopped) onTick(next++);
    if (!stopped) timer = setTimeout(run, Math.max(0, startedAt + next * frameMs - performance.now()));
  };
  run();

  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
