// Debian's Chromium for the browser test: its path, installed with apt when it is absent (a fresh CI
// machine runs as root; anyone else is told what to run).
import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { promisify } from "node:util";

export const CHROMIUM_PATH = "/usr/bin/chromium";

const run = promisify(execFile);
/** apt on a fresh machine: the package lists, then Chromium and its libraries. */
const INSTALL_TIMEOUT_MS = 10 * 60_000;

/** The path of Debian's Chromium, installing it first when absent; throws with a one-line reason when it cannot. */
export async function chromiumPath(log: (line: string) => void = (line) => console.error(`[chromium] ${line}`)): Promise<string> {
  if (await executable(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (process.getuid?.() !== 0) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH} and installing it needs root: run  sudo apt-get install -y --no-install-recommends chromium`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  log("installing Debian's chromium (apt-get update, then apt-get install)");
  try {
    await run("apt-get", ["update"], { env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
    await run("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], { env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? "").trim().split("\n").at(-1);
    throw new Error(`installing chromium with apt-get failed: ${stderr || (error as Error).message}`);
  }
  if (!(await executable(CHROMIUM_PATH))) throw new Error(`apt-get installed chromium, but ${CHROMIUM_PATH} is not there`);
  return CHROMIUM_PATH;
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
