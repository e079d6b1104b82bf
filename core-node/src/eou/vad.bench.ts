// CPU cost of voice activity detection per second of caller audio, as the frame handler pays it:
// mu-law decode + WebRTC VAD (fvad WASM) + the speech gate's level per 20 ms frame. Prints one JSON line (the bench runner
// collects it). Run: node --import tsx core-node/src/eou/vad.bench.ts
import { FRAME_BYTES, SAMPLE_RATE, levelDbfs, mulawToPcm, pcmToMulaw } from "@voice/protocol";
import { SpeechGate } from "./speech-gate.js";
import { loadVad } from "./vad.js";

const AUDIO_SECONDS = 600;
const ROUNDS = 7;

/** Speech-like test audio: 1.2 s of a voiced, amplitude-modulated harmonic tone, 0.8 s of faint noise. */
function testAudio(seconds: number): Uint8Array {
  const pcm = new Int16Array(seconds * SAMPLE_RATE);
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (let i = 0; i < pcm.length; i++) {
    const t = i / SAMPLE_RATE;
    const voiced = t % 2 < 1.2;
    const f0 = 140 + 30 * Math.sin(2 * Math.PI * 0.7 * t);
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
    let sample = noise() * 60;
    if (voiced) for (let h = 1; h <= 8; h++) sample += (4000 / h) * envelope * Math.sin(2 * Math.PI * f0 * h * t);
    pcm[i] = Math.max(-32768, Math.min(32767, Math.round(sample)));
  }
  return pcmToMulaw(pcm);
}

function cpuMs(work: () => void): number {
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const vad = await loadVad();
const audio = testAudio(AUDIO_SECONDS);
const frames = audio.length / FRAME_BYTES;
const pcm = new Int16Array(FRAME_BYTES);

const decodeOnly: number[] = [];
const decodeAndVad: number[] = [];
let voiced = 0;
for (let round = 0; round < ROUNDS; round++) {
  decodeOnly.push(
    cpuMs(() => {
      for (let f = 0; f < frames; f++) mulawToPcm(audio.subarray(f * FRAME_BYTES, (f + 1) * FRAME_BYTES), pcm);
    }),
  );
  const detector = vad.create(2);
  const gate = new SpeechGate();
  voiced = 0;
  decodeAndVad.push(
    cpuMs(() => {
      for (let f = 0; f < frames; f++) {
        mulawToPcm(audio.subarray(f * FRAME_BYTES, (f + 1) * FRAME_BYTES), pcm);
        if (gate.isSpeech(detector.isVoiced(pcm), levelDbfs(pcm))) voiced++;
      }
    }),
  );
  detector.close();
}

const perAudioSecond = (ms: number[]) => Number((median(ms) / AUDIO_SECONDS).toFixed(4));
console.log(
  JSON.stringify({
    suite: "vad",
    audio_seconds: AUDIO_SECONDS,
    rounds: ROUNDS,
    voiced_fraction: Number((voiced / frames).toFixed(3)),
    decode_cpu_ms_per_audio_s: perAudioSecond(decodeOnly),
    decode_and_vad_cpu_ms_per_audio_s: perAudioSecond(decodeAndVad),
    decode_and_vad_cpu_ms_per_audio_s_max: Number((Math.max(...decodeAndVad) / AUDIO_SECONDS).toFixed(4)),
  }),
);
