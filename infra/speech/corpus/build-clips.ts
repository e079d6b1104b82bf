// `npm run corpus:clips`: rebuilds the vendored real-speech clips (infra/speech/corpus/clips/ and
// clips.json) from two Debian packages. Not run by the tests; they read what this wrote.
//
//   npm run corpus:clips                       fetch with apt-get download, unpack with dpkg-deb
//   npm run corpus:clips -- --extracted <dir>  use packages already unpacked under <dir>
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { buildWav, parseWav, pcmBytes, pcmFromBytes, WAV_FORMAT_PCM } from "@voice/protocol";
import { activeSpeechDbfs, decimateByTwo, frameLevels, silencesWithin, timeWords, voicedFrames, voicedSpan, voicedThreshold, type Span, type TimedWord, type WordTimingMethod } from "./signal.js";

const CORPUS_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(CORPUS_DIR, "../../..");
const WORK_DIR = path.join(REPO_ROOT, "infra/.build/corpus");
const SAMPLE_RATE = 8000;
/** Silence kept on each side of a clip's voiced part. */
const EDGE_MS = 20;

type PackageName = "asterisk-core-sounds-en-wav" | "pocketsphinx-testdata";

interface SourcePackage {
  licence: string;
  attribution: string;
  /** Where the clips sit inside the unpacked package. */
  root: string;
}

const PACKAGES: Record<PackageName, SourcePackage> = {
  "asterisk-core-sounds-en-wav": {
    licence: "CC-BY-SA-3.0",
    attribution: "Asterisk core sound prompts, voice of Allison Smith, funded by Digium, Inc.; derived clips stay under CC-BY-SA-3.0",
    root: "usr/share/asterisk/sounds/en_US_f_Allison",
  },
  "pocketsphinx-testdata": {
    licence: "BSD-2-Clause",
    attribution: "CMUSphinx pocketsphinx test data, Carnegie Mellon University; the librivox/ sentences are LibriVox public-domain recordings",
    root: "usr/share/pocketsphinx/test/data",
  },
};

const ALLISON: PackageName = "asterisk-core-sounds-en-wav";
const SPHINX: PackageName = "pocketsphinx-testdata";

/**
 * The clips taken. Allison's prompts have no transcript: only those whose file name says their
 * words beyond doubt are here (vm-INBOX and vm-Old are the "new" and "old" of "you have two new
 * messages", as Asterisk's voicemail plays them). The pocketsphinx texts come from its transcripts.
 */
const CLIPS: { id: string; from: PackageName; file: string; text: string }[] = [
  ...["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"].map((d, i) => ({
    id: `digit-${d}`,
    from: ALLISON,
    file: `digits/${d}.wav`,
    text: ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"][i]!,
  })),
  { id: "ten", from: ALLISON, file: "digits/10.wav", text: "ten" },
  { id: "thirty", from: ALLISON, file: "digits/30.wav", text: "thirty" },
  { id: "a-m", from: ALLISON, file: "digits/a-m.wav", text: "a.m." },
  { id: "p-m", from: ALLISON, file: "digits/p-m.wav", text: "p.m." },
  { id: "oclock", from: ALLISON, file: "digits/oclock.wav", text: "o'clock" },
  { id: "at", from: ALLISON, file: "digits/at.wav", text: "at" },
  { id: "monday", from: ALLISON, file: "digits/day-1.wav", text: "monday" },
  { id: "tuesday", from: ALLISON, file: "digits/day-2.wav", text: "tuesday" },
  { id: "tomorrow", from: ALLISON, file: "digits/tomorrow.wav", text: "tomorrow" },
  { id: "you-have", from: ALLISON, file: "vm-youhave.wav", text: "you have" },
  { id: "new", from: ALLISON, file: "vm-INBOX.wav", text: "new" },
  { id: "old", from: ALLISON, file: "vm-Old.wav", text: "old" },
  { id: "messages", from: ALLISON, file: "vm-messages.wav", text: "messages" },
  { id: "and", from: ALLISON, file: "vm-and.wav", text: "and" },
  { id: "press", from: ALLISON, file: "vm-press.wav", text: "press" },
  { id: "for", from: ALLISON, file: "vm-for.wav", text: "for" },
  { id: "extension", from: ALLISON, file: "extension.wav", text: "extension" },
  { id: "your", from: ALLISON, file: "your.wav", text: "your" },
  { id: "telephone-number", from: ALLISON, file: "telephone-number.wav", text: "telephone number" },
  { id: "goodbye", from: ALLISON, file: "goodbye.wav", text: "goodbye" },
  { id: "one-moment-please", from: ALLISON, file: "one-moment-please.wav", text: "one moment please" },
  { id: "thank-you", from: ALLISON, file: "auth-thankyou.wav", text: "thank you" },
  { id: "im-sorry", from: ALLISON, file: "im-sorry.wav", text: "i'm sorry" },
  { id: "please-try-again", from: ALLISON, file: "please-try-again.wav", text: "please try again" },
  { id: "librivox-0880", from: SPHINX, file: "librivox/sense_and_sensibility_01_austen_64kb-0880.wav", text: "" },
  { id: "librivox-0890", from: SPHINX, file: "librivox/sense_and_sensibility_01_austen_64kb-0890.wav", text: "" },
  { id: "librivox-0920", from: SPHINX, file: "librivox/sense_and_sensibility_01_austen_64kb-0920.wav", text: "" },
  { id: "librivox-0930", from: SPHINX, file: "librivox/sense_and_sensibility_01_austen_64kb-0930.wav", text: "" },
  { id: "cards-001", from: SPHINX, file: "cards/001.wav", text: "" },
  { id: "cards-002", from: SPHINX, file: "cards/002.wav", text: "" },
  { id: "cards-004", from: SPHINX, file: "cards/004.wav", text: "" },
  { id: "cards-005", from: SPHINX, file: "cards/005.wav", text: "" },
  { id: "go-forward", from: SPHINX, file: "goforward.raw", text: "go forward ten meters" },
];

export interface ClipRecord {
  id: string;
  file: string;
  text: string;
  durationMs: number;
  /** Word spans in ms from the clip's first sample. */
  words: TimedWord[];
  timing: WordTimingMethod;
  /** Silences of 200 ms or more between the clip's words. */
  pauses: Span[];
  source: { package: PackageName; version: string; path: string };
  licence: string;
}

export interface ClipsFile {
  sources: Record<PackageName, { version: string; licence: string; attribution: string }>;
  clips: ClipRecord[];
}

/** Unpacked packages: the given directory, or a fresh apt-get download unpacked under infra/.build/corpus. */
function unpackedPackages(given: string | undefined): string {
  if (given) return path.resolve(given);
  const target = path.join(WORK_DIR, "x");
  rmSync(WORK_DIR, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  execFileSync("apt-get", ["download", ...Object.keys(PACKAGES)], { cwd: WORK_DIR, stdio: "inherit" });
  for (const deb of readdirSync(WORK_DIR).filter((f) => f.endsWith(".deb"))) execFileSync("dpkg-deb", ["-x", path.join(WORK_DIR, deb), target]);
  return target;
}

/** The package version, from the first line of its Debian changelog ("name (version) ..."). */
function packageVersion(unpacked: string, name: PackageName): string {
  const changelog = gunzipSync(readFileSync(path.join(unpacked, "usr/share/doc", name, "changelog.Debian.gz"))).toString("utf8");
  const version = /^\S+ \(([^)]+)\)/.exec(changelog)?.[1];
  if (!version) throw new Error(`no version in ${name}'s changelog`);
  return version;
}

/** Transcripts of the pocketsphinx sets: "<s> words </s> (file id)" per line. */
function sphinxTranscripts(unpacked: string): Map<string, string> {
  const texts = new Map<string, string>();
  for (const file of ["librivox/transcription", "cards/cards.transcription"]) {
    const dir = path.dirname(file);
    for (const line of readFileSync(path.join(unpacked, PACKAGES[SPHINX].root, file), "utf8").split("\n")) {
      const match = /<s>(.*)<\/s>\s*\(([^)]+)\)/.exec(line);
      if (match) texts.set(`${dir}/${match[2]!.trim()}.wav`, match[1]!.trim().replace(/\s+/g, " "));
    }
  }
  return texts;
}

/** 8 kHz 16-bit mono PCM from a source file (WAV at 8 or 16 kHz, or the raw 16 kHz s16le of goforward.raw). */
function readAt8k(file: string): Int16Array {
  const bytes = new Uint8Array(readFileSync(file));
  const { pcm, rate } = file.endsWith(".raw")
    ? { pcm: pcmFromBytes(bytes), rate: 16000 }
    : (() => {
        const wav = parseWav(bytes);
        if (wav.format.audioFormat !== WAV_FORMAT_PCM || wav.format.channels !== 1 || wav.format.bitsPerSample !== 16) throw new Error(`${file}: not 16-bit mono PCM`);
        return { pcm: pcmFromBytes(wav.data), rate: wav.format.sampleRate };
      })();
  if (rate === SAMPLE_RATE) return pcm;
  if (rate === 2 * SAMPLE_RATE) return decimateByTwo(pcm);
  throw new Error(`${file}: ${rate} Hz is neither 8 nor 16 kHz`);
}

function buildClip(unpacked: string, versions: Record<PackageName, string>, transcripts: Map<string, string>, entry: (typeof CLIPS)[number]): { record: ClipRecord; pcm: Int16Array } {
  const sourcePath = path.join(PACKAGES[entry.from].root, entry.file);
  const text = entry.text || transcripts.get(entry.file);
  if (!text) throw new Error(`${entry.file}: no transcript`);
  const whole = readAt8k(path.join(unpacked, sourcePath));
  const wholeLevels = frameLevels(whole, SAMPLE_RATE);
  const threshold = voicedThreshold(wholeLevels, activeSpeechDbfs(Float64Array.from(whole), SAMPLE_RATE));
  const voiced = voicedSpan(voicedFrames(wholeLevels, threshold));
  const fromMs = Math.max(0, voiced.startMs - EDGE_MS);
  const toMs = Math.min((whole.length * 1000) / SAMPLE_RATE, voiced.endMs + EDGE_MS);
  const pcm = whole.slice((fromMs * SAMPLE_RATE) / 1000, (toMs * SAMPLE_RATE) / 1000);
  // Timed on the trimmed clip, so every span is in the clip's own ms.
  const levels = frameLevels(pcm, SAMPLE_RATE);
  const mask = voicedFrames(levels, threshold);
  const { words, method } = timeWords(text, levels, mask);
  const record: ClipRecord = {
    id: entry.id,
    file: `clips/${entry.id}.wav`,
    text,
    durationMs: (pcm.length * 1000) / SAMPLE_RATE,
    words,
    timing: method,
    pauses: silencesWithin(mask, voicedSpan(mask)),
    source: { package: entry.from, version: versions[entry.from], path: sourcePath },
    licence: PACKAGES[entry.from].licence,
  };
  return { record, pcm };
}

function main(): void {
  const at = process.argv.indexOf("--extracted");
  const unpacked = unpackedPackages(at >= 0 ? process.argv[at + 1] : undefined);
  const versions = { [ALLISON]: packageVersion(unpacked, ALLISON), [SPHINX]: packageVersion(unpacked, SPHINX) } as Record<PackageName, string>;
  const transcripts = sphinxTranscripts(unpacked);
  const clipsDir = path.join(CORPUS_DIR, "clips");
  rmSync(clipsDir, { recursive: true, force: true });
  mkdirSync(clipsDir, { recursive: true });
  const clips: ClipRecord[] = [];
  let bytes = 0;
  for (const entry of CLIPS) {
    const { record, pcm } = buildClip(unpacked, versions, transcripts, entry);
    const wav = buildWav({ audioFormat: WAV_FORMAT_PCM, channels: 1, sampleRate: SAMPLE_RATE, bitsPerSample: 16 }, pcmBytes(pcm));
    writeFileSync(path.join(CORPUS_DIR, record.file), wav);
    bytes += wav.length;
    clips.push(record);
    console.log(`${record.id.padEnd(20)} ${(record.durationMs / 1000).toFixed(2)} s  ${record.timing.padEnd(7)} ${record.pauses.length} pauses  "${record.text}"`);
  }
  // The licences ask that their notices travel with the clips: the packages' copyright files, unchanged.
  const licencesDir = path.join(CORPUS_DIR, "licences");
  mkdirSync(licencesDir, { recursive: true });
  for (const name of Object.keys(PACKAGES)) copyFileSync(path.join(unpacked, "usr/share/doc", name, "copyright"), path.join(licencesDir, `${name}.copyright`));
  const sources = Object.fromEntries(
    (Object.keys(PACKAGES) as PackageName[]).map((name) => [name, { version: versions[name], licence: PACKAGES[name].licence, attribution: PACKAGES[name].attribution }]),
  ) as ClipsFile["sources"];
  const file: ClipsFile = { sources, clips };
  writeFileSync(path.join(CORPUS_DIR, "clips.json"), `${JSON.stringify(file, null, 1)}\n`);
  const seconds = clips.reduce((s, c) => s + c.durationMs, 0) / 1000;
  console.log(`${clips.length} clips, ${seconds.toFixed(1)} s of audio, ${(bytes / 1024).toFixed(0)} KiB`);
}

main();
