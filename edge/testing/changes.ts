// Test support: awaiting a condition on things that arrive one by one (frames, log lines), checked
// each time the test says something changed; no polling, a generous bound.

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
