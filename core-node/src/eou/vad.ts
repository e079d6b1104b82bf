// WebRTC VAD (libfvad compiled to WASM). The module is loaded once per process by the app; each
// call gets its own detector instance, since the detector keeps state across frames.
import loadFvad, { type FvadModule } from "@echogarden/fvad-wasm";
import { FRAME_BYTES, SAMPLE_RATE } from "@voice/protocol";

/** One detector per call. Frames are 20 ms of 8 kHz PCM (160 samples). */
export interface VoiceActivityDetector {
  isVoiced(frame: Int16Array): boolean;
  close(): void;
}

export interface VadFactory {
  /** mode 0 (calls the most audio speech) .. 3 (strictest; splits speech at short dips). */
  create(mode: number): VoiceActivityDetector;
}

export async function loadVad(): Promise<VadFactory> {
  const fvad = await loadFvad();
  return { create: (mode) => createDetector(fvad, mode) };
}

function createDetector(fvad: FvadModule, mode: number): VoiceActivityDetector {
  const instance = fvad._fvad_new();
  if (!instance) throw new Error("fvad_new failed");
  if (fvad._fvad_set_mode(instance, mode) !== 0 || fvad._fvad_set_sample_rate(instance, SAMPLE_RATE) !== 0) {
    fvad._fvad_free(instance);
    throw new Error(`fvad rejected mode ${mode} or rate ${SAMPLE_RATE}`);
  }
  const buffer = fvad._malloc(FRAME_BYTES * 2);
  let closed = false;
  return {
    isVoiced(frame) {
      if (closed || frame.length !== FRAME_BYTES) return false;
      fvad.HEAP16.set(frame, buffer >> 1);
      return fvad._fvad_process(instance, buffer, FRAME_BYTES) === 1;
    },
    close() {
      if (closed) return;
      closed = true;
      fvad._free(buffer);
      fvad._fvad_free(instance);
    },
  };
}
