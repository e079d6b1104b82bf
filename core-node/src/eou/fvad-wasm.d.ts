// @echogarden/fvad-wasm ships no types: its default export is the emscripten module factory.
declare module "@echogarden/fvad-wasm" {
  export interface FvadModule {
    _fvad_new(): number;
    _fvad_free(instance: number): void;
    _fvad_set_mode(instance: number, mode: number): number;
    _fvad_set_sample_rate(instance: number, rate: number): number;
    /** Returns 1 (voiced), 0 (not voiced) or -1 (invalid frame length). */
    _fvad_process(instance: number, samples: number, length: number): number;
    _malloc(bytes: number): number;
    _free(pointer: number): void;
    /** Re-read on every use: the view is replaced when WASM memory grows. */
    HEAP16: Int16Array;
  }
  export default function loadFvad(overrides?: object): Promise<FvadModule>;
}
