// Lines about an event a peer can repeat at will (a bad frame, a refused connection), thinned: the
// first of each reason in a window gets a line, so the same bad frame sent a thousand times costs
// one line (the counters still count all thousand). Distinct reasons per window are capped too: a
// reason may quote the peer's own input, and varying it must not buy a line per event.
export class LineThrottle {
  private windowStart = Number.NEGATIVE_INFINITY;
  private readonly logged = new Set<string>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly maxReasons = 10,
  ) {}

  /** Whether this event gets a line. */
  admit(reason: string, nowMs: number): boolean {
    if (nowMs - this.windowStart >= this.windowMs) {
      this.windowStart = nowMs;
      this.logged.clear();
    }
    if (this.logged.has(reason) || this.logged.size >= this.maxReasons) return false;
    this.logged.add(reason);
    return true;
  }
}
