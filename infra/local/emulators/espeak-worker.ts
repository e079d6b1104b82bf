// Runs eSpeak-NG off the main thread: one synthesis holds a thread for 100-250 ms, which would stall
// every socket of a process that also hosts the core or the call simulator.
import { parentPort } from "node:worker_threads";
import { synthesizeSpeech, type SpeechOptions } from "../../speech/espeak.js";

export interface SynthesisRequest {
  id: number;
  text: string;
  options: SpeechOptions;
}

export type SynthesisReply = { id: number; pcm: Int16Array } | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error("espeak-worker must run in a worker thread");
port.on("message", (request: SynthesisRequest) => {
  synthesizeSpeech(request.text, request.options).then(
    (pcm) => port.postMessage({ id: request.id, pcm } satisfies SynthesisReply, [pcm.buffer as ArrayBuffer]),
    (error: unknown) => port.postMessage({ id: request.id, error: String(error) } satisfies SynthesisReply),
  );
});
