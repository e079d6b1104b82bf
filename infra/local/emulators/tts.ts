// Google Text-to-Speech v1 emulator: a real gRPC server speaking google.cloud.texttospeech.v1, so the
// real @google-cloud/text-to-speech client talks to it unchanged. The speech is real (eSpeak-NG), in
// the requested language, encoding and sample rate, wrapped in a WAV header as Google wraps
// LINEAR16 and MULAW. Faults (status, stall, slow, malformed audio) are set per test with injectFault.
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { WAV_FORMAT_MULAW, WAV_FORMAT_PCM, buildWav, parseWav, pcmBytes, pcmToMulaw } from "@voice/protocol";
import { espeakVoiceFor } from "../../speech/espeak.js";
import { EspeakPool } from "./espeak-pool.js";
import { FaultSchedule, type FaultWhen, type ScheduledFault } from "./faults.js";
import { callIdOf, googleStatusDetails, grpcError, listenOnLoopback, loadGoogleService, stderrLogger, type Checked } from "./grpc-host.js";
import { listVoices, selectVoice, type TtsVoice } from "./tts-voices.js";

/** How a SynthesizeSpeech request misbehaves. */
export type TtsFault =
  | {
      /** Answer at once with a gRPC status. The default kind: a fault with a `code` and no kind is this one. */
      kind?: "status";
      code: grpc.status;
      /** Default: Google's usual text for the code (googleStatusDetails). */
      details?: string;
    }
  | {
      /** Never answer, until the client's deadline or cancel ends the call. */
      kind: "stall";
    }
  | {
      /** Answer `delayMs` later than latencyMs would. */
      kind: "slow";
      delayMs: number;
    }
  | {
      /** Answer as usual, with the synthesized audio malformed (see MalformedAudioShape). */
      kind: "malformed";
      shape: MalformedAudioShape;
    };

/**
 * How the answer's audio_content is malformed (the gRPC message itself is valid):
 * - empty: no bytes at all;
 * - not-wav: the samples without their WAV header (no RIFF);
 * - lying-length: the WAV's data chunk claims ten times the bytes that follow;
 * - odd-length: the WAV's data is an odd number of bytes (its last byte dropped if even), without the pad byte RIFF wants;
 * - huge: the speech repeated to HUGE_AUDIO_BYTES in a well-formed WAV.
 */
export type MalformedAudioShape = "empty" | "not-wav" | "lying-length" | "odd-length" | "huge";

/** The huge shape's size: minutes of audio, yet under gRPC's default 4 MB message limit. */
export const HUGE_AUDIO_BYTES = 3 * 1024 * 1024;

export type TtsFaultKind = NonNullable<TtsFault["kind"]>;

export interface TtsEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /**
   * Fixed wall-clock time from a SynthesizeSpeech request's arrival to its answer (default 0).
   * Synthesis runs meanwhile, and the answer leaves at max(arrival + latencyMs, synthesis done), so a
   * test can fix TTS latency whatever eSpeak's speed, as long as latencyMs is above eSpeak's time:
   * 150-250 ms per request here (mostly instantiating its WASM), more when requests queue for the
   * synthesisWorkers; 300 or more is safe. stats.latencyOverruns counts answers that came later.
   * Rejections (INVALID_ARGUMENT) are sent at once.
   */
  latencyMs?: number;
  /** Worker threads running eSpeak (default 2), so synthesis never blocks this process's event loop. */
  synthesisWorkers?: number;
  /** Faults from the start, as injectFault adds them. */
  faults?: ScheduledFault<TtsFault>[];
  log?: (line: string) => void;
}

export interface TtsEmulatorStats {
  /** SynthesizeSpeech calls received. */
  requests: number;
  /** Characters of input (text or SSML as sent) in those calls. */
  characters: number;
  /** SynthesizeSpeech calls the client cancelled (or let time out) before the answer. */
  cancellations: number;
  /** SynthesizeSpeech calls received and neither answered nor cancelled yet. */
  requestsInFlight: number;
  /** Syntheses that finished after arrival + latencyMs, so their answer came later than latencyMs. */
  latencyOverruns: number;
  listVoicesRequests: number;
  /** SynthesizeSpeech calls given a fault. */
  faultsInjected: number;
  faultsByKind: Record<TtsFaultKind, number>;
}

export interface TtsEmulator {
  port: number;
  /** "127.0.0.1:<port>" (TTS_ENDPOINT). */
  address: string;
  stats: TtsEmulatorStats;
  /** Gives `fault` to the SynthesizeSpeech requests `when` picks, counted from now on (default: the next
   *  one). A `when.callId` matches requests whose metadata carries that x-call-id. */
  injectFault(fault: TtsFault, when?: FaultWhen): void;
  /** Drops every fault not yet given to a request (a stalled request stays stalled). */
  clearFaults(): void;
  close(): Promise<void>;
}

/** Google's limit on input.text / input.ssml. */
const MAX_INPUT_BYTES = 5000;
const ESPEAK_WORDS_PER_MINUTE = 175;

interface SynthesizeRequestMessage {
  input: { input_source?: string; text: string; ssml: string } | null;
  voice: { language_code: string; name: string; ssml_gender: string } | null;
  audio_config: { audio_encoding: string; speaking_rate: number; pitch: number; volume_gain_db: number; sample_rate_hertz: number } | null;
}

type OutputEncoding = "LINEAR16" | "MULAW" | "PCM";

interface SynthesisPlan {
  text: string;
  voice: TtsVoice;
  encoding: OutputEncoding;
  sampleRateHertz: number;
  wordsPerMinute: number;
  /** eSpeak pitch 0-99. */
  pitch: number;
  gain: number;
}

/** SSML to the words it speaks: tags dropped (a break becomes a word gap), entities decoded. */
export function ssmlToText(ssml: string): string {
  return ssml
    .replace(/<[^>]*>/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

/** Checks a SynthesizeSpeechRequest and turns it into what eSpeak and the encoder need. */
function planSynthesis(request: SynthesizeRequestMessage): Checked<SynthesisPlan> {
  const source = request.input?.input_source;
  if (source !== "text" && source !== "ssml") return { ok: false, reason: "input.text or input.ssml is required" };
  const sent = source === "text" ? request.input!.text : request.input!.ssml;
  if (Buffer.byteLength(sent) > MAX_INPUT_BYTES) {
    return { ok: false, reason: `Either \`input.text\` or \`input.ssml\` is longer than the limit of ${MAX_INPUT_BYTES} bytes.` };
  }
  const text = source === "text" ? sent.trim() : ssmlToText(sent);
  if (!text) return { ok: false, reason: `input.${source} has nothing to speak` };

  const voice = selectVoice(request.voice?.language_code ?? "", request.voice?.name ?? "", request.voice?.ssml_gender ?? "");
  if (!voice.ok) return voice;

  const audio = request.audio_config;
  if (!audio) return { ok: false, reason: "audio_config is required" };
  const encoding = audio.audio_encoding;
  if (encoding !== "LINEAR16" && encoding !== "MULAW" && encoding !== "PCM") {
    return { ok: false, reason: `audio_encoding ${encoding} is not supported by the emulator (LINEAR16, MULAW, PCM)` };
  }
  const rate = audio.speaking_rate || 1;
  if (rate < 0.25 || rate > 4) return { ok: false, reason: `speaking_rate must be in [0.25, 4.0], got ${rate}` };
  if (audio.pitch < -20 || audio.pitch > 20) return { ok: false, reason: `pitch must be in [-20.0, 20.0], got ${audio.pitch}` };
  if (audio.volume_gain_db < -96 || audio.volume_gain_db > 16) {
    return { ok: false, reason: `volume_gain_db must be in [-96.0, 16.0], got ${audio.volume_gain_db}` };
  }
  const sampleRateHertz = audio.sample_rate_hertz || voice.value.naturalSampleRateHertz;
  if (sampleRateHertz < 8000 || sampleRateHertz > 48_000) {
    return { ok: false, reason: `sample_rate_hertz must be in [8000, 48000], got ${sampleRateHertz}` };
  }
  // Gender and the semitone shift map onto eSpeak's 0-99 pitch, so voices sound distinct.
  const basePitch = voice.value.gender === "FEMALE" ? 70 : 40;
  return {
    ok: true,
    value: {
      text,
      voice: voice.value,
      encoding,
      sampleRateHertz,
      wordsPerMinute: Math.round(ESPEAK_WORDS_PER_MINUTE * rate),
      pitch: Math.max(0, Math.min(99, Math.round(basePitch + audio.pitch * 2))),
      gain: 10 ** (audio.volume_gain_db / 20),
    },
  };
}

/** The bytes Google returns: WAV-wrapped for LINEAR16 and MULAW, bare samples for PCM. */
function encodeAudio(pcm: Int16Array, plan: Pick<SynthesisPlan, "encoding" | "sampleRateHertz" | "gain">): Uint8Array {
  const samples = plan.gain === 1 ? pcm : pcm.map((s) => Math.max(-32768, Math.min(32767, Math.round(s * plan.gain))));
  const rate = plan.sampleRateHertz;
  switch (plan.encoding) {
    case "MULAW":
      return buildWav({ audioFormat: WAV_FORMAT_MULAW, channels: 1, sampleRate: rate, bitsPerSample: 8 }, pcmToMulaw(samples));
    case "LINEAR16":
      return buildWav({ audioFormat: WAV_FORMAT_PCM, channels: 1, sampleRate: rate, bitsPerSample: 16 }, pcmBytes(samples));
    case "PCM":
      return pcmBytes(samples);
  }
}

/** `wav` (as encodeAudio made it) malformed as `shape` says; bare PCM has no header to break and is cut or grown alike. */
function malformAudio(wav: Uint8Array, shape: MalformedAudioShape): Uint8Array {
  if (shape === "empty") return new Uint8Array(0);
  let parsed: ReturnType<typeof parseWav> | undefined;
  try {
    parsed = parseWav(wav);
  } catch {
    parsed = undefined; // PCM: samples only
  }
  const samples = parsed?.data ?? wav;
  const wrap = (data: Uint8Array) => (parsed ? buildWav(parsed.format, data) : data);
  switch (shape) {
    case "not-wav":
      return samples.slice();
    case "lying-length": {
      const out = wrap(samples);
      if (parsed) new DataView(out.buffer).setUint32(40, samples.length * 10, true); // buildWav's data size field
      return out;
    }
    case "odd-length":
      return wrap(samples.subarray(0, samples.length - (samples.length % 2 === 0 ? 1 : 0)));
    case "huge": {
      const data = new Uint8Array(HUGE_AUDIO_BYTES - 44);
      for (let at = 0; samples.length > 0 && at < data.length; at += samples.length) data.set(samples.subarray(0, data.length - at), at);
      return wrap(data);
    }
  }
}

export async function startTtsEmulator(options: TtsEmulatorOptions = {}): Promise<TtsEmulator> {
  const latencyMs = options.latencyMs ?? 0;
  const log = options.log ?? stderrLogger("tts-emulator");
  const stats: TtsEmulatorStats = {
    requests: 0,
    characters: 0,
    cancellations: 0,
    requestsInFlight: 0,
    latencyOverruns: 0,
    listVoicesRequests: 0,
    faultsInjected: 0,
    faultsByKind: { status: 0, stall: 0, slow: 0, malformed: 0 },
  };
  const faults = new FaultSchedule(options.faults);
  const espeak = new EspeakPool(options.synthesisWorkers ?? 2);

  const synthesize = async (call: grpc.ServerUnaryCall<SynthesizeRequestMessage, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    stats.requests++;
    stats.requestsInFlight++;
    const input = call.request.input;
    stats.characters += [...(input?.input_source === "ssml" ? input.ssml : (input?.text ?? ""))].length;
    const cancelled = new AbortController();
    let settled = false;
    /** Ends the call's time in flight, once: by the answer or by the client's cancel. */
    const settle = () => {
      if (settled) return false;
      settled = true;
      stats.requestsInFlight--;
      return true;
    };
    const answer: grpc.sendUnaryData<unknown> = (error, value) => {
      if (settle()) callback(error, value);
    };
    call.on("cancelled", () => {
      if (!settle()) return;
      stats.cancellations++;
      cancelled.abort();
    });
    const fault = faults.take(callIdOf(call.metadata));
    if (fault) {
      stats.faultsInjected++;
      stats.faultsByKind[fault.kind ?? "status"]++;
    }
    if (fault?.kind === "stall") return; // only the client's deadline or cancel settles it
    if (fault && fault.kind !== "slow" && fault.kind !== "malformed") {
      answer(grpcError(fault.code, fault.details ?? googleStatusDetails(fault.code)));
      return;
    }
    const plan = planSynthesis(call.request);
    if (!plan.ok) {
      log(`SynthesizeSpeech rejected: ${plan.reason}`);
      answer(grpcError(grpc.status.INVALID_ARGUMENT, plan.reason));
      return;
    }
    try {
      const { text, voice, sampleRateHertz, wordsPerMinute, pitch } = plan.value;
      let latencyPassed = false;
      const [pcm] = await Promise.all([
        espeak.synthesize(text, { voice: espeakVoiceFor(voice.languageCode), sampleRate: sampleRateHertz, wordsPerMinute, pitch }).then((pcm) => {
          if (latencyPassed) stats.latencyOverruns++;
          return pcm;
        }),
        sleep(latencyMs + (fault?.kind === "slow" ? fault.delayMs : 0), undefined, { signal: cancelled.signal }).then(() => (latencyPassed = true)),
      ]);
      const audio = encodeAudio(pcm, plan.value);
      answer(null, { audio_content: Buffer.from(fault?.kind === "malformed" ? malformAudio(audio, fault.shape) : audio) });
    } catch (error) {
      if (cancelled.signal.aborted) return; // cancelled: nobody is waiting for the answer
      log(`SynthesizeSpeech failed: ${String(error)}`);
      answer(grpcError(grpc.status.INTERNAL, `synthesis failed: ${String(error)}`));
    }
  };

  const server = new grpc.Server();
  server.addService(
    loadGoogleService("@google-cloud/text-to-speech", "google/cloud/texttospeech/v1/cloud_tts.proto", "google.cloud.texttospeech.v1.TextToSpeech"),
    {
      SynthesizeSpeech: (call: grpc.ServerUnaryCall<SynthesizeRequestMessage, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        void synthesize(call, callback);
      },
      ListVoices: (call: grpc.ServerUnaryCall<{ language_code: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        stats.listVoicesRequests++;
        const voices = listVoices(call.request.language_code).map((voice) => ({
          language_codes: [voice.languageCode],
          name: voice.name,
          ssml_gender: voice.gender,
          natural_sample_rate_hertz: voice.naturalSampleRateHertz,
        }));
        callback(null, { voices });
      },
    },
  );
  const host = await listenOnLoopback(server, options.port ?? 0);
  return {
    ...host,
    stats,
    injectFault: (fault, when) => faults.add(fault, when),
    clearFaults: () => faults.clear(),
    close: async () => void (await Promise.all([host.close(), espeak.close()])),
  };
}
