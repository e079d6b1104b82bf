// eSpeak-NG on worker threads, so the TTS emulator never blocks the event loop it may share with the
// core and the call simulator (npm start, end-to-end tests). Workers start with the pool, so their
// ~0.5 s boot is never paid inside a measured turn.
import { Worker } from "node:worker_threads";
import type { SpeechOptions } from "../../speech/espeak.js";
import type { SynthesisReply, SynthesisRequest } from "./espeak-worker.js";

interface Pending {
  resolve: (pcm: Int16Array) => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

export class EspeakPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 0;

  constructor(private readonly size = 2) {
    for (let i = 0; i < size; i++) this.spawn();
  }

  /** 16-bit mono PCM of `text` at `options.sampleRate`, synthesized off the main thread. */
  synthesize(text: string, options: SpeechOptions): Promise<Int16Array> {
    const target = this.leastBusy();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      target.pending.set(id, { resolve, reject });
      target.worker.postMessage({ id, text, options } satisfies SynthesisRequest);
    });
  }

  async close(): Promise<void> {
    const workers = this.workers.splice(0);
    await Promise.all(workers.map(({ worker }) => worker.terminate()));
  }

  private leastBusy(): PoolWorker {
    const idle = this.workers.find((w) => w.pending.size === 0);
    if (idle) return idle;
    if (this.workers.length < this.size) return this.spawn();
    return this.workers.reduce((best, w) => (w.pending.size < best.pending.size ? w : best));
  }

  private spawn(): PoolWorker {
    const entry: PoolWorker = { worker: new Worker(new URL("./espeak-worker.mjs", import.meta.url)), pending: new Map() };
    entry.worker.on("message", (reply: SynthesisReply) => {
      const pending = entry.pending.get(reply.id);
      entry.pending.delete(reply.id);
      if ("pcm" in reply) pending?.resolve(reply.pcm);
      else pending?.reject(new Error(reply.error));
    });
    // A crashed worker fails what it held and leaves the pool; the next request spawns another.
    const fail = (error: Error) => {
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      for (const pending of entry.pending.values()) pending.reject(error);
      entry.pending.clear();
    };
    entry.worker.on("error", fail);
    entry.worker.on("exit", (code) => fail(new Error(`eSpeak worker exited with code ${code}`)));
    this.workers.push(entry);
    return entry;
  }
}
