// The process-wide TTS cache. Keys hash exactly the request sent to the API, so audio warmed at
// start is found by any turn that sends the same request, and a change of voice, format or text
// can never return stale audio. Bounded by bytes, least recently used out first; except what warmup
// pinned (the greeting, the farewell, the fixed phrases: what the core says when something failed),
// which counts against the bytes but is never evicted, whatever callers ask to have synthesized.
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
  /** Never evicted; outside the LRU order. */
  private readonly pinned = new Map<string, Uint8Array>();
  private totalBytes = 0;
  private pinnedTotal = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes held, pinned included. */
  get bytes(): number {
    return this.totalBytes;
  }

  get size(): number {
    return this.entries.size + this.pinned.size;
  }

  /** Entries pinned, and their bytes. */
  get pinnedCount(): number {
    return this.pinned.size;
  }

  get pinnedBytes(): number {
    return this.pinnedTotal;
  }

  get(key: string): Uint8Array | undefined {
    const pinned = this.pinned.get(key);
    if (pinned) return pinned;
    const audio = this.entries.get(key);
    if (audio) {
      this.entries.delete(key);
      this.entries.set(key, audio);
    }
    return audio;
  }

  /** Stores `audio` as the most recently used; a pinned key keeps its pin (and takes the new audio). */
  set(key: string, audio: Uint8Array): void {
    if (this.pinned.has(key)) return this.pin(key, audio);
    // What cannot fit beside the pinned audio is not kept (it would only push out everything else).
    if (audio.length > this.maxBytes - this.pinnedTotal) return;
    this.remove(key);
    this.entries.set(key, audio);
    this.totalBytes += audio.length;
    this.evict();
  }

  /**
   * Keeps `audio` under `key` for good: counted in `bytes`, never evicted. Least recently used
   * entries make room for it; pinned audio alone may exceed maxBytes (then nothing else stays).
   */
  pin(key: string, audio: Uint8Array): void {
    this.remove(key);
    this.pinned.set(key, audio);
    this.pinnedTotal += audio.length;
    this.totalBytes += audio.length;
    this.evict();
  }

  private remove(key: string): void {
    const pinned = this.pinned.get(key);
    if (pinned) {
      this.pinned.delete(key);
      this.pinnedTotal -= pinned.length;
      this.totalBytes -= pinned.length;
    }
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.totalBytes -= old.length;
    }
  }

  /** Least recently used first, until the bytes fit (or only pinned audio is left). */
  private evict(): void {
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

  /**
   * Synthesizes `text` (or finds it) and pins its audio in the cache: never evicted. For what the
   * core must always be able to say at once (warmup's phrases).
   */
  async pin(text: string, deadlineMs?: number): Promise<Synthesized> {
    const synthesized = await this.synthesize(text, undefined, deadlineMs);
    this.cache.pin(cacheKey(synthesisRequest(text, this.voice)), synthesized.audio);
    return synthesized;
  }

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
