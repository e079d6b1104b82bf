// The import rules that keep the shape of the repository, checked with the TypeScript parser (no
// type-checking) over source texts handed in as a map, so the same rules run on the real tree
// (readRepoSources) and on a few synthetic lines in a test. See ARCHITECTURE.md, "The house".
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

/**
 * Pure decision code: events in, actions out, time arriving inside the events. A listed module may
 * load at run time only other listed modules, `@voice/protocol` modules that are themselves free of
 * I/O, and PURE_PACKAGES (`import type` is free); and its code never reads a clock, schedules, or
 * touches the process or the network (FORBIDDEN_IN_PURE). Repository-relative paths; adding a
 * module is one line.
 */
export const PURE_MODULES: readonly string[] = [
  // Decisions: events (with their times) in, actions or verdicts out.
  "core-node/src/eou/turn-machine.ts",
  "core-node/src/eou/barge-in.ts",
  "core-node/src/eou/backchannel.ts",
  "core-node/src/eou/unfinished.ts",
  "core-node/src/eou/speech-gate.ts",
  "core-node/src/call/dtmf.ts",
  "core-node/src/call/recognition-watch.ts",
  "core-node/src/call/handover.ts",
  "core-node/src/call/inbound.ts",
  "core-node/src/call/phase.ts",
  "core-node/src/call/listening.ts",
  "core-node/src/call/listening-contract.ts",
  "core-node/src/call/conversation.ts",
  "core-node/src/call/speculation.ts",
  "core-node/src/call/marks.ts",
  "core-node/src/call/turn-report.ts",
  "core-node/src/call/call-stats.ts",
  "core-node/src/call/idle.ts",
  "core-node/src/call/control-tools.ts",
  "core-node/src/stt/replay.ts",
  "core-node/src/llm/sentences.ts",
  "core-node/src/llm/history.ts",
  "core-node/src/metrics/clock.ts",
  "core-node/src/metrics/line-throttle.ts",
  "edge/src/reconnect-policy.ts",
  "edge/src/stream-claim.ts",
  "edge/src/core-frames.ts",
  "edge/src/call-course.ts",
  "edge/src/record-delivery.ts",
  "infra/booking/decide.ts",
  "infra/local/services.ts",
  "core-node/src/record/delivery.ts",
  // Pure computation the decisions and the shells share: values in, values out.
  "core-node/src/metrics/turn.ts",
  "core-node/src/metrics/redact.ts",
  "core-node/src/metrics/redact-words.ts",
  "core-node/src/tools/agent-schema.ts",
  "core-node/src/tools/business-hours.ts",
  "core-node/src/record/record-part.ts",
  "core-node/src/record/summary.ts",
  "core-node/src/audio/frames.ts",
  "edge/src/vars.ts",
  "edge/src/frames.ts",
  "edge/src/record-assembly.ts",
  "edge/src/signature.ts",
  "edge/src/twiml.ts",
  "infra/booking/slots.ts",
  "infra/sim/call-control.ts",
  "infra/stats/distribution.ts",
  "infra/bench/lib/turn-taking-score.ts",
  "infra/bench/lib/turn-taking-table.ts",
  "infra/speech/corpus/signal.ts",
];

/** Third-party packages with no I/O and no side effects on load, which pure code may use. */
export const PURE_PACKAGES: readonly string[] = ["zod", "alawmulaw"];

const isName = (node: ts.Node, name: string): node is ts.Identifier => ts.isIdentifier(node) && node.text === name;
const isAccess = (node: ts.Node, object: string, member: string) =>
  ts.isPropertyAccessExpression(node) && isName(node.expression, object) && node.name.text === member;
const isCallee = (node: ts.Node) =>
  (ts.isCallExpression(node.parent) && node.parent.expression === node) ||
  (ts.isPropertyAccessExpression(node.parent) && node.parent.name === node && ts.isCallExpression(node.parent.parent) && node.parent.parent.expression === node.parent);

/**
 * What the code of a pure module must not use: clocks, timers, the process, the network. Checked on
 * the code that runs (comments, strings, types and import lines aside), so `import type { WebSocket }`
 * and a comment about Date.now() are fine.
 */
export const FORBIDDEN_IN_PURE: readonly { name: string; matches(node: ts.Node): boolean }[] = [
  ...["setTimeout", "setInterval", "setImmediate", "queueMicrotask", "WebSocket"].map((name) => ({ name, matches: (n: ts.Node) => isName(n, name) })),
  { name: "Date.now", matches: (n) => isAccess(n, "Date", "now") },
  { name: "new Date(", matches: (n) => ts.isNewExpression(n) && isName(n.expression, "Date") },
  { name: "performance.now", matches: (n) => isAccess(n, "performance", "now") },
  { name: "process.", matches: (n) => isName(n, "process") && ts.isPropertyAccessExpression(n.parent) && n.parent.expression === n },
  { name: "fetch(", matches: (n) => isName(n, "fetch") && isCallee(n) },
];

/** Test code, which the production rules do not cover: test and bench files, and the folders test harnesses live in. */
export const TEST_FILE = /\.(test|bench)\.ts$/;
export const TEST_HARNESS_DIRS: readonly string[] = ["core-node/testing/", "edge/testing/"];

const PROTOCOL_SRC = "protocol/src/";
const PROTOCOL_PACKAGE = "@voice/protocol";
/** The other workspaces by package name, so `@voice/edge/...` counts as a path into edge/. */
const WORKSPACE_DIRS: Record<string, string> = { "@voice/edge": "edge", "@voice/core-node": "core-node", "@voice/infra": "infra" };

export type Target =
  | { kind: "repo"; path: string }
  | { kind: "package"; name: string }
  | { kind: "computed" };

export interface ImportRef {
  specifier: string;
  target: Target;
  /** 1-based line of the import in its file. */
  line: number;
  /** The statement, first line, for messages. */
  text: string;
  /** Erased at compile time: `import type`, `export type`, `typeof import("x")`, or only type names with the module loaded by nothing. */
  typeOnly: boolean;
  /** `import { type A } from "x"`: only type names, yet under verbatimModuleSyntax the statement stays as `import {} from "x"` and loads x. */
  onlyInlineTypes: boolean;
}

export interface Violation {
  rule: "protocol-self-contained" | "production-not-test-code" | "wings-apart" | "tools-apart" | "file-size" | "pure-imports" | "pure-code" | "pure-listed";
  file: string;
  line?: number;
  /** The offending import statement or usage. */
  offending: string;
  message: string;
}

export function formatViolation(v: Violation): string {
  return `${v.file}${v.line === undefined ? "" : `:${v.line}`}  [${v.rule}]  ${v.offending}\n    ${v.message}`;
}

/**
 * Tools under infra that stand on their own: the folder on the left never imports the one on the
 * right (tests included). The emulators and the simulator are two ends of a call that only meet on
 * the wire; the gate that decides a deploy must not depend on the benchmarks.
 */
export const TOOLS_APART: readonly (readonly [string, string])[] = [
  ["infra/local/", "infra/sim/"],
  ["infra/sim/", "infra/local/"],
  ["infra/go-no-go/", "infra/bench/"],
];

/** Production source, whose files must stay readable in one sitting. */
const PRODUCTION_ROOTS = ["core-node/src/", "edge/src/", "protocol/src/"];
export const MAX_SOURCE_LINES = 450;

/** Folders never read: dependencies, build output, tool state (dot-directories). */
const SKIPPED_DIRS = new Set(["node_modules", "infra/.build"]);

/** Every .ts file of the repository at `root`: repository-relative path (with /) -> text. */
export function readRepoSources(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name) && !SKIPPED_DIRS.has(rel) && !entry.name.startsWith(".")) walk(rel);
      } else if (entry.isFile() && entry.name.endsWith(".ts")) files.set(rel, readFileSync(path.join(root, rel), "utf8"));
    }
  };
  walk("");
  return files;
}

/** Resolve a specifier written in `file` (repository-relative) to a repository path or a package. */
export function resolveSpecifier(file: string, specifier: string): Target {
  if (specifier.startsWith(".")) {
    const joined = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
    return { kind: "repo", path: joined.replace(/\.(m|c)?js$/, ".$1ts").replace(/^\.\//, "") };
  }
  if (specifier === PROTOCOL_PACKAGE) return { kind: "repo", path: `${PROTOCOL_SRC}index.ts` };
  if (specifier.startsWith(`${PROTOCOL_PACKAGE}/`)) return { kind: "repo", path: `${PROTOCOL_SRC}${specifier.slice(PROTOCOL_PACKAGE.length + 1)}.ts` };
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
  const workspace = WORKSPACE_DIRS[name];
  if (workspace) return { kind: "repo", path: `${workspace}/${specifier.slice(name.length + 1)}` };
  return { kind: "package", name };
}

function stringArgument(node: ts.Expression | undefined): string | undefined {
  return node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
}

/** Every import, export-from, dynamic import, require and type import of one file. */
export function readImports(file: string, text: string): ImportRef[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: ImportRef[] = [];
  const add = (node: ts.Node, specifier: string | undefined, typeOnly: boolean, onlyInlineTypes = false) => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    const statement = node.getText(source).split("\n")[0]!.trim();
    const target: Target = specifier === undefined ? { kind: "computed" } : resolveSpecifier(file, specifier);
    found.push({ specifier: specifier ?? "(computed)", target, line, text: statement, typeOnly, onlyInlineTypes });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const inlineOnly = !!clause && !clause.isTypeOnly && !clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly);
      add(node, stringArgument(node.moduleSpecifier), !!clause?.isTypeOnly, inlineOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      const inlineOnly = !node.isTypeOnly && !!named && named.length > 0 && named.every((e) => e.isTypeOnly);
      add(node, stringArgument(node.moduleSpecifier), node.isTypeOnly, inlineOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, stringArgument(node.moduleReference.expression), node.isTypeOnly);
    } else if (ts.isCallExpression(node)) {
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require" && node.arguments.length === 1;
      if (isImport || isRequire) add(node, stringArgument(node.arguments[0]), false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, stringArgument(node.argument.literal as ts.Expression), true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Uses of FORBIDDEN_IN_PURE in the code that runs in one file, with their lines. */
export function forbiddenUses(file: string, text: string): { name: string; line: number; text: string }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lines = text.split("\n");
  const uses: { name: string; line: number; text: string }[] = [];
  const visit = (node: ts.Node): void => {
    // Erased before it runs, or checked by the import rule.
    if (ts.isTypeNode(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) return;
    if (ts.isImportDeclaration(node) || ts.isImportEqualsDeclaration(node) || (ts.isExportDeclaration(node) && node.moduleSpecifier)) return;
    for (const rule of FORBIDDEN_IN_PURE)
      if (rule.matches(node)) {
        const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        uses.push({ name: rule.name, line, text: lines[line - 1]!.trim() });
      }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return uses;
}

export function isTestCode(file: string): boolean {
  return TEST_FILE.test(file) || TEST_HARNESS_DIRS.some((d) => file.startsWith(d));
}

/** A runtime import: anything that makes the module load when this one does. */
const loads = (ref: ImportRef) => !ref.typeOnly;

function shown(ref: ImportRef): string {
  return ref.target.kind === "repo" && ref.target.path !== ref.specifier ? `${ref.text}   (-> ${ref.target.path})` : ref.text;
}

export interface CheckOptions {
  pureModules?: readonly string[];
  purePackages?: readonly string[];
}

/**
 * Every violation of the rules over `files` (repository-relative path -> text). Files that are not
 * .ts are ignored; every rule reports the file, the line and the import or code to change.
 */
export function checkArchitecture(files: ReadonlyMap<string, string>, options: CheckOptions = {}): Violation[] {
  const pureModules = new Set(options.pureModules ?? PURE_MODULES);
  const purePackages = new Set(options.purePackages ?? PURE_PACKAGES);
  const imports = new Map<string, ImportRef[]>();
  const importsOf = (file: string) => {
    let refs = imports.get(file);
    if (!refs) imports.set(file, (refs = readImports(file, files.get(file) ?? "")));
    return refs;
  };
  const violations: Violation[] = [];
  const tsFiles = [...files.keys()].filter((f) => f.endsWith(".ts")).sort();

  for (const file of tsFiles) {
    const refs = importsOf(file);

    // 1. protocol/src stands alone: zod and the like, never a wing.
    if (file.startsWith(PROTOCOL_SRC) && !TEST_FILE.test(file)) {
      for (const ref of refs) {
        const outside =
          (ref.target.kind === "repo" && !ref.target.path.startsWith(PROTOCOL_SRC)) ||
          (ref.target.kind === "package" && ref.target.name.startsWith("@voice/"));
        if (outside)
          violations.push({
            rule: "protocol-self-contained",
            file,
            line: ref.line,
            offending: shown(ref),
            message: "protocol/src imports nothing of ours outside protocol/src: move what it needs into protocol/src, or the code out of protocol",
          });
      }
    }

    // 2. Production code of the two wings: no infra, no test harness, not the other wing.
    const wing = file.startsWith("core-node/src/") ? "core-node/src/" : file.startsWith("edge/src/") ? "edge/src/" : undefined;
    if (wing && !isTestCode(file)) {
      const otherWing = wing === "edge/src/" ? "core-node/" : "edge/";
      for (const ref of refs) {
        if (ref.target.kind !== "repo") continue;
        const target = ref.target.path;
        if (target.startsWith("infra/") || isTestCode(target))
          violations.push({
            rule: "production-not-test-code",
            file,
            line: ref.line,
            offending: shown(ref),
            message: `production code never imports infra/ or test code (*.test.ts, *.bench.ts, ${TEST_HARNESS_DIRS.join(", ")}): move the shared piece into this wing or protocol/src`,
          });
        else if (target.startsWith(otherWing))
          violations.push({
            rule: "wings-apart",
            file,
            line: ref.line,
            offending: shown(ref),
            message: `${wing.split("/")[0]} does not import ${otherWing.split("/")[0]}: what both need belongs in protocol/src`,
          });
      }
    }
  }

  // 3. Production files small enough to read: split by concern before one grows past the limit.
  for (const file of tsFiles) {
    if (!PRODUCTION_ROOTS.some((root) => file.startsWith(root)) || isTestCode(file)) continue;
    const lines = (files.get(file) ?? "").split("\n").length;
    if (lines > MAX_SOURCE_LINES)
      violations.push({ rule: "file-size", file, offending: `${lines} lines`, message: `a production source file stays under ${MAX_SOURCE_LINES} lines: split it by concern` });
  }

  // 3b. Tools under infra that stand apart.
  for (const file of tsFiles) {
    for (const [from, to] of TOOLS_APART) {
      if (!file.startsWith(from)) continue;
      for (const ref of importsOf(file))
        if (ref.target.kind === "repo" && ref.target.path.startsWith(to))
          violations.push({
            rule: "tools-apart",
            file,
            line: ref.line,
            offending: shown(ref),
            message: `${from} does not import ${to}: move what both use into a folder of its own under infra/`,
          });
    }
  }

  // 4. Pure modules.
  const protocolIo = protocolIoReasons(files, importsOf, purePackages);
  for (const file of [...pureModules].sort()) {
    const text = files.get(file);
    if (text === undefined) {
      violations.push({
        rule: "pure-listed",
        file,
        offending: "(listed in PURE_MODULES)",
        message: "a listed pure module does not exist: fix its path in PURE_MODULES (infra/architecture/imports.ts), or remove the line",
      });
      continue;
    }
    for (const ref of importsOf(file).filter(loads)) {
      const t = ref.target;
      let problem: string | undefined;
      if (t.kind === "computed") problem = "a pure module imports only fixed specifiers";
      else if (t.kind === "package") {
        if (!purePackages.has(t.name)) problem = `${t.name} is not in PURE_PACKAGES: import only its types (import type), or take what it gives as an argument`;
      } else if (t.path.startsWith(PROTOCOL_SRC)) {
        const reason = protocolIo.get(t.path) ?? (files.has(t.path) ? null : `${t.path} does not exist`);
        if (reason) problem = `${t.path} is not free of I/O (${reason})`;
      } else if (!pureModules.has(t.path)) {
        problem = `${t.path} is not a pure module: import only its types (import type), make it pure and list it in PURE_MODULES, or pass what it does in`;
      }
      if (problem && ref.onlyInlineTypes)
        problem = `only type names, but under verbatimModuleSyntax \`import { type X }\` still loads the module: write \`import type { ... }\` (${problem})`;
      if (problem) violations.push({ rule: "pure-imports", file, line: ref.line, offending: shown(ref), message: problem });
    }
    for (const use of forbiddenUses(file, text))
      violations.push({
        rule: "pure-code",
        file,
        line: use.line,
        offending: use.text,
        message: `a pure module does not use ${use.name}: let the event carry the time, and the shell that calls this module do the effect`,
      });
  }
  return violations;
}

/**
 * For each protocol/src file, why it is not free of I/O (null when it is): its own code uses
 * something in FORBIDDEN_IN_PURE, it loads a package outside PURE_PACKAGES, or it loads (directly or
 * not) a protocol file that does. Propagated to a fixed point, so import cycles are judged right.
 */
function protocolIoReasons(
  files: ReadonlyMap<string, string>,
  importsOf: (file: string) => ImportRef[],
  purePackages: ReadonlySet<string>,
): Map<string, string | null> {
  const reasons = new Map<string, string | null>();
  const protocolFiles = [...files.keys()].filter((f) => f.startsWith(PROTOCOL_SRC) && f.endsWith(".ts") && !TEST_FILE.test(f));
  for (const file of protocolFiles) {
    const use = forbiddenUses(file, files.get(file)!)[0];
    const bad = importsOf(file)
      .filter(loads)
      .find((ref) => ref.target.kind === "computed" || (ref.target.kind === "package" && !purePackages.has(ref.target.name)));
    reasons.set(
      file,
      use ? `${file}:${use.line} uses ${use.name}` : bad ? `${file}:${bad.line} loads ${bad.target.kind === "package" ? bad.target.name : "a computed specifier"}` : null,
    );
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const file of protocolFiles) {
      if (reasons.get(file) !== null) continue;
      for (const ref of importsOf(file).filter(loads)) {
        if (ref.target.kind !== "repo") continue;
        const target = ref.target.path;
        const via = !target.startsWith(PROTOCOL_SRC)
          ? `${file}:${ref.line} loads ${target}, outside protocol/src`
          : files.has(target)
            ? reasons.get(target)
            : `${target} does not exist`;
        if (via) {
          reasons.set(file, via);
          changed = true;
          break;
        }
      }
    }
  }
  return reasons;
}
