// One workerd and one miniflare in the install: wrangler, the worker tests' pool and the local edge
// runner all run the same runtime (a workerd binary is ~100 MB, and two copies could drift apart).
// npm keeps a package where the lockfile first put it, so a copy nested under one of its users stays
// nested until `npm dedupe` re-places it; this walks every node_modules of the repository and names
// each copy it finds.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Each installed copy of `name` under `nodeModules` and the node_modules nested inside its packages. */
function copiesIn(nodeModules: string, name: string): string[] {
  if (!existsSync(nodeModules)) return [];
  const found = existsSync(path.join(nodeModules, name, "package.json")) ? [path.join(nodeModules, name)] : [];
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    // Workspace links (node_modules/@voice/*) point back into the repository, which is walked once by itself.
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    const packages = entry.name.startsWith("@")
      ? readdirSync(path.join(nodeModules, entry.name), { withFileTypes: true })
          .filter((scoped) => scoped.isDirectory())
          .map((scoped) => path.join(nodeModules, entry.name, scoped.name))
      : [path.join(nodeModules, entry.name)];
    for (const dir of packages) found.push(...copiesIn(path.join(dir, "node_modules"), name));
  }
  return found;
}

function installedCopies(name: string): string[] {
  const { workspaces } = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { workspaces: string[] };
  return ["", ...workspaces]
    .flatMap((root) => copiesIn(path.join(REPO_ROOT, root, "node_modules"), name))
    .map((dir) => {
      const { version } = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string };
      return `${path.relative(REPO_ROOT, dir)}@${version}`;
    });
}

describe("the Workers runtime in node_modules", () => {
  it.each(["workerd", "miniflare"])("holds one copy of %s", (name) => {
    const copies = installedCopies(name);
    expect(copies, `copies of ${name}: ${copies.join(", ")} (npm dedupe puts them in one place)`).toHaveLength(1);
  });
});
