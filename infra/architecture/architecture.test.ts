// The shape of the code (ARCHITECTURE.md, "The house"): protocol stands alone, production code does
// not reach into infra or test code, the two wings do not import each other, the emulators, the
// simulator and the GO/NO-GO gate stand apart, and the modules in PURE_MODULES stay pure. A failure lists each file:line, the rule and the import or code to change.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkArchitecture, formatViolation, MAX_SOURCE_LINES, PURE_MODULES, readImports, readRepoSources, type Violation } from "./imports.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const check = (files: Record<string, string>, pureModules: string[] = []): Violation[] =>
  checkArchitecture(new Map(Object.entries(files)), { pureModules });

describe("the repository", () => {
  const files = readRepoSources(REPO_ROOT);

  it("reads the workspaces' sources", () => {
    for (const root of ["protocol/src/", "edge/src/", "core-node/src/", "infra/"])
      expect([...files.keys()].some((f) => f.startsWith(root)), root).toBe(true);
    expect([...files.keys()].filter((f) => f.includes("node_modules/") || f.startsWith("infra/.build/"))).toEqual([]);
  });

  it("keeps every rule", () => {
    // One readable list on failure: "file:line [rule] import" and what to do about it.
    expect(checkArchitecture(files).map(formatViolation).join("\n\n")).toBe("");
  });

  it("fails when a listed pure module starts reading the clock (the check reads the real files)", () => {
    const module = PURE_MODULES[0]!;
    const changed = new Map(files).set(module, `${files.get(module)}\nexport const startedAt = Date.now();\n`);
    expect(checkArchitecture(changed).filter((v) => v.file === module)).toMatchObject([{ rule: "pure-code", file: module, offending: "export const startedAt = Date.now();" }]);
  });

  it("lists each pure module once", () => {
    expect(PURE_MODULES.filter((m, i) => PURE_MODULES.indexOf(m) !== i)).toEqual([]);
  });
});

describe("reading imports", () => {
  it("finds static, re-exported, dynamic, required and type imports, resolved to repository paths", () => {
    const refs = readImports(
      "core-node/src/call/x.ts",
      [
        `import { a } from "./a.js";`,
        `import type { B } from "../stt/types.js";`,
        `import { type C, d } from "@voice/protocol";`,
        `import { type E } from "ws";`,
        `export * from "@voice/protocol/core-link";`,
        `export type { F } from "./f.js";`,
        `const g = await import("../../../infra/local/stack.js");`,
        `const h = require("node:fs");`,
        `let i: typeof import("./i.js");`,
        `import "./side-effect.js";`,
      ].join("\n"),
    );
    expect(refs.map((r) => [r.line, r.target, r.typeOnly, r.onlyInlineTypes])).toEqual([
      [1, { kind: "repo", path: "core-node/src/call/a.ts" }, false, false],
      [2, { kind: "repo", path: "core-node/src/stt/types.ts" }, true, false],
      [3, { kind: "repo", path: "protocol/src/index.ts" }, false, false],
      [4, { kind: "package", name: "ws" }, false, true],
      [5, { kind: "repo", path: "protocol/src/core-link.ts" }, false, false],
      [6, { kind: "repo", path: "core-node/src/call/f.ts" }, true, false],
      [7, { kind: "repo", path: "infra/local/stack.ts" }, false, false],
      [8, { kind: "package", name: "node:fs" }, false, false],
      [9, { kind: "repo", path: "core-node/src/call/i.ts" }, true, false],
      [10, { kind: "repo", path: "core-node/src/call/side-effect.ts" }, false, false],
    ]);
  });
});

describe("the rules, on synthetic sources", () => {
  const pureSource = (body: string) => ({ "core-node/src/eou/pure.ts": body });

  it("a pure module that loads ws is reported", () => {
    const v = check(pureSource(`import { WebSocketServer as Server } from "ws";\nexport const s = Server;\n`), ["core-node/src/eou/pure.ts"]);
    expect(v).toMatchObject([{ rule: "pure-imports", file: "core-node/src/eou/pure.ts", line: 1 }]);
    expect(v[0]!.message).toMatch(/ws is not in PURE_PACKAGES/);
  });

  it("a pure module that calls Date.now() is reported, but not for a comment that mentions it", () => {
    const v = check(pureSource(`// never Date.now() here\nexport function at() {\n  return Date.now();\n}\n`), ["core-node/src/eou/pure.ts"]);
    expect(v).toMatchObject([{ rule: "pure-code", line: 3, offending: "return Date.now();" }]);
  });

  it("each forbidden use is reported in a pure module", () => {
    const uses = [
      "setTimeout(f, 1)",
      "setInterval(f, 1)",
      "setImmediate(f)",
      "queueMicrotask(f)",
      "new Date()",
      "performance.now()",
      "process.env.X",
      "fetch(url)",
      "new WebSocket(url)",
    ];
    const v = check(pureSource(uses.map((u) => `export const x${uses.indexOf(u)} = () => ${u};`).join("\n")), ["core-node/src/eou/pure.ts"]);
    expect(v.map((x) => x.line)).toEqual(uses.map((_, i) => i + 1));
  });

  it("a pure module may load other pure modules, I/O-free protocol modules and PURE_PACKAGES", () => {
    const v = check(
      {
        "core-node/src/eou/pure.ts": `import { b } from "./other.js";\nimport { FRAME } from "@voice/protocol/limits";\nimport { z } from "zod";\n`,
        "core-node/src/eou/other.ts": `export const b = 1;\n`,
        "protocol/src/limits.ts": `import { z } from "zod";\nexport const FRAME = 160;\n`,
      },
      ["core-node/src/eou/pure.ts", "core-node/src/eou/other.ts"],
    );
    expect(v).toEqual([]);
  });

  it("a pure module may not load a module that is not pure, nor a protocol module with I/O", () => {
    const v = check(
      {
        "core-node/src/eou/pure.ts": `import { shell } from "./shell.js";\nimport { sign } from "@voice/protocol";\n`,
        "core-node/src/eou/shell.ts": `export const shell = 1;\n`,
        "protocol/src/index.ts": `export * from "./token.js";\n`,
        "protocol/src/token.ts": `export const sign = () => Date.now();\n`,
      },
      ["core-node/src/eou/pure.ts"],
    );
    expect(v).toMatchObject([
      { rule: "pure-imports", line: 1, message: expect.stringMatching(/core-node\/src\/eou\/shell.ts is not a pure module/) },
      { rule: "pure-imports", line: 2, message: expect.stringMatching(/protocol\/src\/token.ts:1 uses Date.now/) },
    ]);
  });

  it("import type from an I/O module is allowed in a pure module; a value import of the same is not", () => {
    const allowed = check(pureSource(`import type { WebSocket } from "ws";\nimport type { App } from "../app.js";\nexport type Sock = WebSocket | App;\n`), [
      "core-node/src/eou/pure.ts",
    ]);
    expect(allowed).toEqual([]);
    const inline = check(pureSource(`import { type App, build } from "../app.js";\n`), ["core-node/src/eou/pure.ts"]);
    expect(inline).toMatchObject([{ rule: "pure-imports", line: 1 }]);
  });

  it("`import { type X }` alone still loads the module (verbatimModuleSyntax), so a pure module is told to write `import type`", () => {
    const v = check(pureSource(`import { type Server } from "ws";\n`), ["core-node/src/eou/pure.ts"]);
    expect(v).toMatchObject([{ rule: "pure-imports", message: expect.stringMatching(/write `import type/) }]);
  });

  it("a listed pure module that does not exist is reported", () => {
    expect(check({}, ["core-node/src/eou/gone.ts"])).toMatchObject([{ rule: "pure-listed", file: "core-node/src/eou/gone.ts" }]);
  });

  it("a protocol file importing ../../core-node/... is reported, as is another @voice package; zod is fine", () => {
    const v = check({
      "protocol/src/bad.ts": [
        `import { z } from "zod";`,
        `import { session } from "../../core-node/src/call/session.js";`,
        `import type { Env } from "@voice/edge/src/env";`,
        `import { ok } from "./ok.js";`,
      ].join("\n"),
      "protocol/src/bad.test.ts": `import { x } from "../../infra/sim/call.js";\n`,
    });
    expect(v).toMatchObject([
      { rule: "protocol-self-contained", file: "protocol/src/bad.ts", line: 2, offending: expect.stringContaining("core-node/src/call/session.ts") },
      { rule: "protocol-self-contained", file: "protocol/src/bad.ts", line: 3 },
    ]);
  });

  it("an edge file importing ../../infra/... is reported; an edge test may", () => {
    const v = check({
      "edge/src/media.ts": `import { frames } from "../../infra/twilio/media-stream-frames.js";\n`,
      "edge/src/media.test.ts": `import { frames } from "../../infra/twilio/media-stream-frames.js";\n`,
    });
    expect(v).toMatchObject([{ rule: "production-not-test-code", file: "edge/src/media.ts", line: 1, offending: expect.stringContaining("infra/twilio/media-stream-frames.ts") }]);
  });

  it("core production code importing infra, a test harness or the edge is reported", () => {
    const v = check({
      "core-node/src/server.ts": [
        `const emulators = await import("../../infra/local/emulators/index.js");`,
        `import { harness } from "../testing/core-harness.js";`,
        `import type { Env } from "../../edge/src/env.js";`,
      ].join("\n"),
      "core-node/testing/core-harness.ts": `import { startEmulators } from "../../infra/local/emulators/index.js";\n`,
    });
    expect(v.map((x) => [x.rule, x.file, x.line])).toEqual([
      ["production-not-test-code", "core-node/src/server.ts", 1],
      ["production-not-test-code", "core-node/src/server.ts", 2],
      ["wings-apart", "core-node/src/server.ts", 3],
    ]);
  });

  it("the emulators and the simulator do not import each other, and the GO/NO-GO gate does not import the benchmarks", () => {
    const v = check({
      "infra/local/emulators/speech-test-kit.ts": `import { concat } from "../../sim/recording.js";\n`,
      "infra/sim/caller-audio.ts": `import { synthesizeSpeech } from "../local/espeak.js";\n`,
      "infra/go-no-go/stats.ts": `import { distribution } from "../bench/stats.js";\n`,
      "infra/sim/cli.ts": `import { synthesizeSpeech } from "../speech/espeak.js";\n`,
    });
    expect(v.map((x) => [x.rule, x.file])).toEqual([
      ["tools-apart", "infra/go-no-go/stats.ts"],
      ["tools-apart", "infra/local/emulators/speech-test-kit.ts"],
      ["tools-apart", "infra/sim/caller-audio.ts"],
    ]);
  });

  it("a production source file over the size limit is reported; a test file of any length is not", () => {
    const long = "export const x = 1;\n".repeat(MAX_SOURCE_LINES + 1);
    const v = check({ "core-node/src/call/session.ts": long, "core-node/src/call/session.test.ts": long, "infra/bench/suites/long.ts": long });
    expect(v.map((x) => [x.rule, x.file])).toEqual([["file-size", "core-node/src/call/session.ts"]]);
  });
});
