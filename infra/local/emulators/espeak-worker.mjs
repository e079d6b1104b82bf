// Worker threads start as plain Node, without the TypeScript loader the parent may run under (tsx,
// vitest); tsx's scoped import lets this worker load the TypeScript synthesizer itself.
import { tsImport } from "tsx/esm/api";

await tsImport("./espeak-worker.ts", import.meta.url);
