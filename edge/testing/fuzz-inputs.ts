// Test-only: generators of outside input for the edge's property tests (fast-check). Every property
// runs with a fixed seed and a bounded number of runs, so `npm test` is repeatable and quick; a
// failure prints the seed and the shrunk counterexample.
import fc from "fast-check";

/** Runs per property: enough to hit the odd shapes, few enough that a file takes well under a second. */
export const RUNS = 300;

/** Any UTF-16 code unit, lone surrogates included: what a WebSocket peer or a form body can hand us after decoding. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));

/** Beginnings the edge treats specially, so the generated text reaches past the first check. */
const KNOWN_PREFIXES = [
  '{"event":"media"',
  '{"event":"media",',
  '{"event":"start"',
  '{"event":"stop"',
  '{"event":"mark"',
  '{"event":"',
  '{"event":"core.state"',
  '{"event":"core.move"',
  '{"event":"core.',
  '{"event":"edge.greeting"',
  '{"streamSid":"MZ1","event":"media"',
  "{",
  "",
];

/** Text as a hostile peer might send it: random code units, valid JSON, and known beginnings with anything after. */
export const anyText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: codeUnit, maxLength: 100 }),
  fc.json(),
  fc.tuple(fc.constantFrom(...KNOWN_PREFIXES), fc.oneof(fc.string({ unit: "binary", maxLength: 120 }), fc.json())).map(([head, tail]) => head + tail),
);

/** Strings with no lone surrogate: what survives URL-encoding unchanged (Twilio's form fields, header-free values). */
export const wellFormedText = fc.string({ unit: "grapheme", maxLength: 40 });
