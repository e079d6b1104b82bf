// espeak-ng ships no types; this is the part of its emscripten module we use.
declare module "espeak-ng" {
  interface ESpeakModule {
    FS: { readFile(path: string, opts?: { encoding?: "binary" | "utf8" }): Uint8Array | string };
  }
  export default function ESpeakNg(options: { arguments: string[] }): Promise<ESpeakModule>;
}
