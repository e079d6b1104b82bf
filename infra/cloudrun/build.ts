// The core's production build: core-node/src/main.ts and the @voice/protocol workspace (which
// exports TypeScript) bundled into one ESM file for plain `node`, with every npm package left as an
// import. Packages stay external because they read files from their own directories at run time
// (the Google clients their .proto files, fvad its .wasm); the image installs them with
// `npm ci --omit=dev`. The Dockerfile runs this (`npm run build:core`), and build.test.ts runs the
// same function and starts its output.
//
//   npm run build:core [-- OUTDIR]     writes OUTDIR/main.js (+ .map); OUTDIR defaults to dist/
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CORE_ENTRY = path.join(REPO_ROOT, "core-node/src/main.ts");
/** Workspaces of this repo: compiled into the bundle, since they ship TypeScript sources. */
const BUNDLED_SCOPE = "@voice/";

export interface CoreBuild {
  /** Absolute path of the bundle. */
  outfile: string;
  /** npm packages the bundle imports (bare names, e.g. "@grpc/grpc-js"): the image must install them. */
  externalPackages: string[];
}

/** The package a bare import names: "@scope/name/sub" -> "@scope/name", "name/sub" -> "name". */
export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

function isBare(specifier: string): boolean {
  return !specifier.startsWith(".") && !path.isAbsolute(specifier) && !specifier.startsWith("node:");
}

/** Leaves every npm package as an import, except this repo's own workspaces. */
const externalPackagesPlugin: esbuild.Plugin = {
  name: "external-packages",
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === "entry-point" || !isBare(args.path) || args.path.startsWith(BUNDLED_SCOPE)) return undefined;
      return { path: args.path, external: true };
    });
  },
};

export async function buildCore(outdir: string): Promise<CoreBuild> {
  const outfile = path.join(outdir, "main.js");
  const result = await esbuild.build({
    entryPoints: [CORE_ENTRY],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Stack traces in Cloud Logging then name the TypeScript file and line (NODE_OPTIONS=--enable-source-maps).
    sourcemap: true,
    plugins: [externalPackagesPlugin],
    metafile: true,
    logLevel: "silent",
  });
  const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports);
  const externalPackages = [...new Set(imports.filter((i) => i.external && isBare(i.path)).map((i) => packageName(i.path)))].sort();
  return { outfile, externalPackages };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = path.resolve(process.argv[2] ?? path.join(REPO_ROOT, "dist"));
  try {
    const build = await buildCore(outdir);
    console.log(`${path.relative(process.cwd(), build.outfile)} (packages left to node_modules: ${build.externalPackages.join(", ")})`);
  } catch (error) {
    // esbuild's own message names the file and line of each error.
    console.error(`core build failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
