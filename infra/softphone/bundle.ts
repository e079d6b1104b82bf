// The page's scripts, bundled from infra/softphone/page/ by esbuild when the server starts (in
// memory, nothing written): the page's own, and the audio worklet's, which the browser loads as a
// module of its own.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const PAGE_DIR = fileURLToPath(new URL("./page/", import.meta.url));

export interface PageBundle {
  "page.js": string;
  "phone-worklet.js": string;
}

export async function bundlePage(): Promise<PageBundle> {
  const result = await build({
    entryPoints: { page: `${PAGE_DIR}main.ts`, "phone-worklet": `${PAGE_DIR}phone-worklet.ts` },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outdir: "/softphone",
    write: false,
    minify: false,
    sourcemap: "inline",
    logLevel: "silent",
  });
  const file = (name: string) => {
    const found = result.outputFiles.find((output) => output.path.endsWith(`/${name}`));
    if (!found) throw new Error(`softphone: esbuild produced no ${name}`);
    return found.text;
  };
  return { "page.js": file("page.js"), "phone-worklet.js": file("phone-worklet.js") };
}
