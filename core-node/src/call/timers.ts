// The session's clock work, in one small place: named timers (arming one again replaces it, so a
// decision's timer is never armed twice) and waits for a condition on the call's state (a mark
// echoed, an utterance finished) with a bound. The pure parts ask for timers as actions; this runs them.

export class Timers {
  private readonly armed = new Map<string, NodeJS.Timeout>();

  /** Runs `fire` after `ms`, replacing the timer of the same name if one is armed. */
  arm(name: string, ms: number, fire: () => void): void {
    this.cancel(name);
    this.armed.set(
      name,
      setTimeout(() => {
        this.armed.delete(name);
        fire();
      }, Math.max(0, ms)),
    );
  }

  cancel(name: string): void {
    clearTimeout(this.armed.get(name));
    this.armed.delete(name);
  }

  cancelAll(): void {
    for (const timer of this.armed.values()) clearTimeout(timer);
    this.armed.clear();
  }
}

/** Promises that resolve true once their condition holds, checked on `check()`, or false after their bound. */
export class Waits {
  private waiting: Array<{ holds: () => boolean; settle: (held: boolean) => void }> = [];

  /** Resolves true once `holds()` is true at a check (at once if it is now), or false after `timeoutMs`. */
  until(holds: () => boolean, timeoutMs: number): Promise<boolean> {
    if (holds()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), Math.max(0, timeoutMs));
      const settle = (held: boolean) => {
        clearTimeout(timer);
        this.waiting = this.waiting.filter((wait) => wait.settle !== settle);
        resolve(held);
      };
      this.waiting.push({ holds, settle });
    });
  }

  /** The state changed: every wait whose condition now holds resolves. */
  check(): void {
    for (const wait of [...this.waiting]) if (wait.holds()) wait.settle(true);
  }

  /** The call ended: nothing more will change, every wait resolves. */
  releaseAll(): void {
    for (const wait of [...this.waiting]) wait.settle(true);
  }
}
