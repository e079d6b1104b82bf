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

/** Synthesis in the configured voice, cache first; concurrent requests for one text share a call. */
export class CachedTextToSpeech {
  private readonly inFlight = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly tts: TextToSpeech,
    private readonly cache: TtsCache,
    private readonly voice: VoiceSelection,
  ) {}

  async synthesize(text: string): Promise<Synthesized> {
    const request = synthesisRequest(text, this.voice);
    const key = cacheKey(request);
    const cached = this.cache.get(key);
    if (cached) return { audio: cached, cacheHit: true };
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.tts.synthesize(request).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    const audio = await pending;
    this.cache.set(key, audio);
    return { audio, cacheHit: false };
  }
}
