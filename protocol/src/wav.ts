// RIFF/WAVE containers: Google TTS wraps MULAW and LINEAR16 audio in one, OpenAI's transcription API
// wants one, and the simulator writes one. Parsing walks the chunks rather than assuming 44 bytes.

export type WavFormat = { audioFormat: number; channels: number; sampleRate: number; bitsPerSample: number };

export const WAV_FORMAT_PCM = 1;
export const WAV_FORMAT_MULAW = 7;

export interface ParsedWav {
  format: WavFormat;
  data: Uint8Array;
}

export function parseWav(bytes: Uint8Array): ParsedWav {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
  if (bytes.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a RIFF/WAVE file");
  let format: WavFormat | undefined;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === "fmt ") {
      format = {
        audioFormat: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bitsPerSample: view.getUint16(body + 14, true),
      };
    } else if (id === "data") {
      if (!format) throw new Error("WAV data chunk before fmt chunk");
      // Streaming writers put 0 or 0xFFFFFFFF as the size; take what is there.
      const end = size === 0 || size === 0xffffffff ? bytes.length : Math.min(bytes.length, body + size);
      return { format, data: bytes.subarray(body, end) };
    }
    at = body + size + (size & 1);
  }
  throw new Error("WAV has no data chunk");
}

export function buildWav(format: WavFormat, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(44 + data.length);
  const view = new DataView(out.buffer);
  const writeTag = (at: number, tag: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = tag.charCodeAt(i);
  };
  const blockAlign = (format.channels * format.bitsPerSample) / 8;
  writeTag(0, "RIFF");
  view.setUint32(4, 36 + data.length, true);
  writeTag(8, "WAVE");
  writeTag(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, format.audioFormat, true);
  view.setUint16(22, format.channels, true);
  view.setUint32(24, format.sampleRate, true);
  view.setUint32(28, format.sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, format.bitsPerSample, true);
  writeTag(36, "data");
  view.setUint32(40, data.length, true);
  out.set(data, 44);
  return out;
}

/** 16-bit PCM samples as little-endian bytes (the layout WAV uses). */
export function pcmBytes(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) view.setInt16(i * 2, pcm[i]!, true);
  return out;
}

export function pcmFromBytes(bytes: Uint8Array): Int16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int16Array(bytes.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}
