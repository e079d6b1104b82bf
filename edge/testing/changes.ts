// Test support: awaiting a condition on things that arrive one by one (frames, log lines), checked
// each time the test says something changed; no polling, a generous bound.
import { vi } from "vitest";

/** Resolves once `test()` holds, checked whenever `changed` fires; rejects after `timeoutMs`. */
export class Changes {
  private waiters: Array<() => void> = [];
  changed(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
  until(test: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = () => (test() ? (clearTimeout(timer), resolve()) : this.waiters.push(check));
      check();
    });
  }
}

/** The worker's JSON log lines (console.log and console.error) into `logs`, each one a change. */
export function captureLogLines(logs: Record<string, unknown>[], changes: Changes): void {
  const capture = (line: unknown) => {
    if (typeof line === "string" && line.startsWith("{")) logs.push(JSON.parse(line) as Record<string, unknown>);
    changes.changed();
  };
  vi.spyOn(console, "log").mockImplementation(capture);
  vi.spyOn(console, "error").mockImplementation(capture);
}
