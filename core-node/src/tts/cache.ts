// The process-wide TTS cache. Keys hash exactly the request sent to the API, so audio warmed at
// start is found by any turn that sends the same request, and a change of voice, format or text
// can never return stale audio. Bounded by bytes, least recently used out first.
import { createHash } from "node:crypto";
import { synthesisRequest, type SynthesisRequest, type TextToSpeech, type VoiceSelection } from "./types.js";

export function cacheKey(request: SynthesisRequest): string {
  return createHash("sha256").update(canonicalJson(request)).digest("hex");
}

/** JSON with object keys sorted, so equal requests hash equally however they were built. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export class TtsCache {
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, Uint8Array>();
  private totalBytes = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.totalBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Uint8Array | undefined {
    const audio = this.entries.get(key);
    if (audio) {
      this.entries.delete(key);
      this.entries.set(key, audio);
    }
    return audio;
  }

  set(key: string, audio: Uint8Array): void {
    if (audio.length > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.totalBytes -= old.length;
      this.entries.delete(key);
    }
    this.entries.set(key, audio);
    this.totalBytes += audio.length;
    for (const [oldest, oldAudio] of this.entries) {
      if (this.totalBytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.totalBytes -= oldAudio.length;
    }
  }
}

export interface Synthesized {
  audio: Uint8Array;
  cacheHit: boolean;
}

/** Synthesis as an answer uses it: the cache itself, or the cache within a call's budget. */
export interface Synthesis {
  synthesize(text: string, signal: AbortSignal): Promise<Synthesized>;
}

/** One request to the service, shared by every caller that wants the same audio meanwhile. */
interface InFlight {
  audio: Promise<Uint8Array>;
  /** Callers still waiting; when the last one gives up the request is cancelled. */
  waiters: number;
  cancel: AbortController;
  settled: boolean;
}

/**
 * Synthesis in the configured voice, cache first. Concurrent requests for one text share a call;
 * a caller that aborts stops waiting at once, and the service call is cancelled when no one else
 * waits for it (a barge-in must not cancel the same sentence for another call).
 */
export class CachedTextToSpeech {
  private readonly inFlight = new Map<string, InFlight>();

  constructor(
    private readonly tts: TextToSpeech,
    private readonly cache: TtsCache,
    private readonly voice: VoiceSelection,
  ) {}

  /** `deadlineMs`: see TextToSpeech.synthesize (a request already in flight keeps its own). */
  async synthesize(text: string, signal?: AbortSignal, deadlineMs?: number): Promise<Synthesized> {
    // The request built here is exactly the one sent, and the key is its hash.
    const request = synthesisRequest(text, this.voice);
    const key = cacheKey(request);
    const cached = this.cache.get(key);
    if (cached) return { audio: cached, cacheHit: true };
    signal?.throwIfAborted();
    const flight = this.inFlight.get(key) ?? this.start(key, request, deadlineMs);
    flight.waiters++;
    try {
      return { audio: await untilAborted(flight.audio, signal), cacheHit: false };
    } finally {
      flight.waiters--;
      if (flight.waiters === 0 && !flight.settled) {
        this.inFlight.delete(key);
        flight.cancel.abort();
      }
    }
  }

  private start(key: string, request: SynthesisRequest, deadlineMs: number | undefined): InFlight {
    const cancel = new AbortController();
    const flight: InFlight = { audio: this.tts.synthesize(request, cancel.signal, deadlineMs), waiters: 0, cancel, settled: false };
    this.inFlight.set(key, flight);
    // Registered first, so it runs before any waiter resumes.
    const settle = () => {
      flight.settled = true;
      if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
    };
    flight.audio.then((audio) => {
      settle();
      this.cache.set(key, audio);
    }, settle); // each waiter gets the error itself
    return flight;
  }
}

/** `work`, or a rejection as soon as `signal` aborts (the work itself goes on unless cancelled elsewhere). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
