// G.711 mu-law, the phone line's audio encoding. alawmulaw supplies the reference per-sample codec;
// we expand it once into lookup tables because per-frame table look-ups are ~2.5x faster.
import * as alawmulawModule from "alawmulaw";

// Node loads the package's CommonJS build (everything under `default`); bundlers pick its ES build
// (named exports). Accept both so the same source runs in Node, workerd and esbuild bundles.
const alawmulaw = (alawmulawModule as { default?: typeof alawmulawModule }).default ?? alawmulawModule;

const DECODE_TABLE = new Int16Array(256);
for (let i = 0; i < 256; i++) DECODE_TABLE[i] = alawmulaw.mulaw.decodeSample(i);

// Encoding is indexed by the top 14 bits of a 16-bit sample (mu-law resolves no finer than that).
const ENCODE_TABLE = new Uint8Array(1 << 14);
for (let i = 0; i < ENCODE_TABLE.length; i++) ENCODE_TABLE[i] = alawmulaw.mulaw.encodeSample((i << 2) - 32768);

/** Decodes mu-law bytes to 16-bit linear PCM; writes into `out` when given (no allocation). */
export function mulawToPcm(mulaw: Uint8Array, out = new Int16Array(mulaw.length)): Int16Array {
  for (let i = 0; i < mulaw.length; i++) out[i] = DECODE_TABLE[mulaw[i]!]!;
  return out;
}

export function pcmToMulaw(pcm: Int16Array, out = new Uint8Array(pcm.length)): Uint8Array {
  for (let i = 0; i < pcm.length; i++) out[i] = ENCODE_TABLE[(pcm[i]! + 32768) >> 2]!;
  return out;
}
