// Every JSON and YAML file under infra/ and .github/workflows, and the root's .env.example, parses,
// and is claimed by something that checks its fields against what its tool expects. A new config
// file nobody claims fails here with its path: add it to CLAIMS with the test that checks it.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseEnvText } from "./local/env-file.js";
import { checkCallerScript } from "./sim/script.js";

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Where config files live; node_modules and dot-directories (build output, tool state) are not ours. */
const ROOTS = ["infra", ".github/workflows"];
const CONFIG_FILE = /\.(json|ya?ml)$/;
/** Config files at the repository's root, outside the walk. */
const ROOT_FILES = [".env.example"];

interface Claim {
  /** Repository-relative paths it claims. */
  pattern: RegExp;
  /** What checks the files' fields, in words. */
  checkedBy: string;
  /** The tests that do it: a test file, or "dir/" for the tests in a directory. None when checked here or by a tool. */
  tests: string[];
}

const CLAIMS: Claim[] = [
  {
    pattern: /^infra\/observability\/(metrics\/[^/]+\.yaml|policies\/[^/]+\.yaml|dashboard\.json)$/,
    checkedBy: "the log metrics, dashboard and alert policies, against gcloud's fields and the core's TURN/CALL schemas",
    tests: ["infra/observability/observability.test.ts"],
  },
  { pattern: /^infra\/cloudrun\/[^/]+\.ya?ml$/, checkedBy: "the Cloud Run service and Cloud Build config, by the deploy tests", tests: ["infra/cloudrun/"] },
  { pattern: /^\.github\/workflows\/[^/]+\.ya?ml$/, checkedBy: "the GitHub Actions workflow, by the deploy tests", tests: ["infra/deploy/"] },
  { pattern: /^infra\/go-no-go\/.+\.(json|ya?ml)$/, checkedBy: "GO/NO-GO fixtures and thresholds, by the go-no-go tests", tests: ["infra/go-no-go/"] },
  { pattern: /^infra\/(caller-scripts|local\/scripts)\/[^/]+\.json$/, checkedBy: "caller scripts, by the simulator's checkCallerScript (here)", tests: [] },
  { pattern: /^infra\/package\.json$/, checkedBy: "npm (the infra workspace's manifest)", tests: [] },
  {
    pattern: /^infra\/speech\/corpus\/clips\.json$/,
    checkedBy: "the real-speech corpus's clips (files, words, sources and licences), by the corpus tests",
    tests: ["infra/speech/corpus/items.test.ts"],
  },
  {
    pattern: /^\.env\.example$/,
    checkedBy: "the keys npm start reads from .env: exactly those the stack reads, each with its comment",
    tests: ["infra/local/env-file.test.ts"],
  },
  {
    pattern: /^infra\/local\/agent\.[a-z-]+\.json$/,
    checkedBy: "the local agent file, by the core's own agent-file validation, against the booking service's tools",
    tests: ["infra/booking/agent-file.test.ts"],
  },
];

function configFiles(dir: string): string[] {
  const absolute = path.join(REPO_ROOT, dir);
  if (!existsSync(absolute)) return [];
  return readdirSync(absolute).flatMap((name) => {
    const relative = `${dir}/${name}`;
    if (name === "node_modules" || name.startsWith(".")) return [];
    if (statSync(path.join(REPO_ROOT, relative)).isDirectory()) return configFiles(relative);
    return CONFIG_FILE.test(name) ? [relative] : [];
  });
}

const FILES = [...ROOTS.flatMap(configFiles), ...ROOT_FILES.filter((file) => existsSync(path.join(REPO_ROOT, file)))].sort();

/** Parses by extension; the reason when it does not. */
function parseProblem(file: string): string | undefined {
  const text = readFileSync(path.join(REPO_ROOT, file), "utf8");
  try {
    if (file.endsWith(".env.example")) {
      const parsed = parseEnvText(text);
      if (!parsed.ok) return parsed.error;
    } else if (file.endsWith(".json")) JSON.parse(text);
    else {
      const error = parseAllDocuments(text).flatMap((doc) => ("errors" in doc ? doc.errors : []))[0];
      if (error) return error.message;
    }
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

function hasTests(test: string): boolean {
  const absolute = path.join(REPO_ROOT, test);
  if (!test.endsWith("/")) return existsSync(absolute);
  return existsSync(absolute) && readdirSync(absolute).some((name) => name.endsWith(".test.ts"));
}

describe("config files in infra/ and .github/workflows", () => {
  it("are found (this walk sees the repository)", () => {
    expect(FILES).toEqual(expect.arrayContaining(["infra/package.json", "infra/caller-scripts/default.he.json", "infra/observability/dashboard.json", ".env.example"]));
  });

  it("parse", () => {
    const problems = FILES.flatMap((file) => {
      const problem = parseProblem(file);
      return problem ? [`${file}: ${problem}`] : [];
    });
    expect(problems).toEqual([]);
  });

  it("are each claimed by exactly one checker", () => {
    const unclaimed = FILES.filter((file) => CLAIMS.filter((c) => c.pattern.test(file)).length !== 1);
    expect(unclaimed, "add these to CLAIMS in infra/config-files.test.ts with the test that checks them").toEqual([]);
  });

  it("a new file in a place nobody checks is not claimed by accident", () => {
    const claimed = (file: string) => CLAIMS.some((c) => c.pattern.test(file));
    expect(["infra/observability/extra.json", "infra/deploy/settings.json", "infra/sim/calls.yaml", "infra/cloudrun/sub/x.yaml"].filter(claimed)).toEqual([]);
    expect(["infra/observability/metrics/voice_turns.yaml", "infra/cloudrun/service.yaml", ".github/workflows/deploy.yml"].every(claimed)).toBe(true);
  });

  it("are claimed by tests that exist", () => {
    const missing = CLAIMS.flatMap((claim) => {
      const claimed = FILES.filter((file) => claim.pattern.test(file));
      if (claimed.length === 0) return [];
      return claim.tests.filter((test) => !hasTests(test)).map((test) => `${claimed.join(", ")}: claimed by ${test}, which has no test`);
    });
    expect(missing).toEqual([]);
  });

  it("caller scripts are scripts the simulator accepts", () => {
    const scripts = FILES.filter((file) => /^infra\/(caller-scripts|local\/scripts)\//.test(file));
    expect(scripts.length).toBeGreaterThan(0);
    const problems = scripts.flatMap((file) => {
      const checked = checkCallerScript(JSON.parse(readFileSync(path.join(REPO_ROOT, file), "utf8")));
      return checked.ok ? [] : [`${file}: ${checked.reason}`];
    });
    expect(problems).toEqual([]);
  });
});
