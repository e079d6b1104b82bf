// The edge worker as a deploy ships it stays under 100 KB: wrangler itself builds it, from
// wrangler.toml (minified) for production, exactly as `npx wrangler deploy --env production` would,
// but stops before the upload. The bundle was once five times that, nearly all of it zod: the edge
// parses the wire messages with zod/mini, and the schemas only the core parses live apart
// (protocol/src/link-frames.ts). Offline: no cf-object fetch, no telemetry, and no banner (its update
// check is the one request a dry run would make).
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WRANGLER = createRequire(import.meta.url).resolve("wrangler/bin/wrangler.js");
/** 100 KB, counted in thousands: under this the bundle is under 100 KB however a KB is read. */
const LIMIT_BYTES = 100_000;

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/** The bundle's bytes by where they come from (a package, or a workspace's src), largest first. */
function largestParts(meta: Metafile, count: number): string {
  const bytes = new Map<string, number>();
  for (const output of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const part = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? input.split("/").slice(0, 2).join("/");
      bytes.set(part, (bytes.get(part) ?? 0) + bytesInOutput);
    }
  }
  return [...bytes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([part, size]) => `${part} ${size}`)
    .join(", ");
}

describe("the edge worker's bundle", () => {
  it("is under 100 KB as `wrangler deploy --env production` builds it", async () => {
    const outdir = await mkdtemp(path.join(tmpdir(), "edge-bundle-"));
    try {
      const metafile = path.join(outdir, "meta.json");
      await promisify(execFile)(process.execPath, [WRANGLER, "deploy", "--dry-run", "--env", "production", "--outdir", outdir, "--metafile", metafile], {
        cwd: REPO_ROOT,
        env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true" },
      });
      const { size } = await stat(path.join(outdir, "index.js"));
      const parts = largestParts(JSON.parse(await readFile(metafile, "utf8")) as Metafile, 5);
      expect(size, `the edge bundle is ${size} bytes (limit ${LIMIT_BYTES}); largest parts in bytes: ${parts}`).toBeLessThan(LIMIT_BYTES);
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  });
});
