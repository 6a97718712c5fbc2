/** Property tests: whatever the text, lint returns findings or throws a SlimwheelError, nothing else. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { lintText } from "./lint.js";
import { rules } from "./rules/index.js";

const corpus = join(import.meta.dirname, "..", "..", "test", "fixtures", "lint");
const seeds = readdirSync(corpus)
  .filter((f) => f.endsWith(".Dockerfile"))
  .map((f) => readFileSync(join(corpus, f), "utf8"));
const examples = rules.flatMap((r) => [...r.good, ...r.bad]);

/** Lints and checks the outcome: a well-formed result, or a SlimwheelError. */
function lintsOrRejects(text: string): void {
  try {
    const r = lintText(text, "Dockerfile");
    const lines = text.split(/\r\n|\r|\n/).length;
    for (const f of r.findings) {
      expect(f.line).toBeGreaterThanOrEqual(1);
      expect(f.line).toBeLessThanOrEqual(lines);
      expect(f.column).toBeGreaterThanOrEqual(1);
      expect(f.endLine).toBeGreaterThanOrEqual(f.line);
    }
  } catch (e) {
    if (!isSlimwheelError(e)) throw e;
    expect(e.code).toBe("input");
  }
}

const keyword = fc.constantFrom(
  "FROM",
  "RUN",
  "COPY",
  "ADD",
  "ENV",
  "ARG",
  "USER",
  "WORKDIR",
  "CMD",
  "ENTRYPOINT",
  "LABEL",
  "EXPOSE",
  "HEALTHCHECK",
  "ONBUILD",
  "SHELL",
  "VOLUME",
  "from",
  "run",
  "#",
  "# slimwheel-ignore",
  "# escape=`",
  "\\",
);
const word = fc.oneof(
  fc.constantFrom(
    "python:3.12",
    "python",
    "python:latest",
    "alpine",
    "${X}",
    "$Y",
    "${Z:-python:3.11-slim}",
    "AS",
    "b",
    ".",
    "./",
    "/wheels",
    "/wheels/*.whl",
    "pip",
    "install",
    "-r",
    "requirements.txt",
    "--no-cache-dir",
    "apt-get",
    "update",
    "build-essential",
    "gcc",
    "purge",
    "&&",
    "||",
    ";",
    "|",
    "\\",
    "`",
    "<<EOF",
    "EOF",
    "--mount=type=cache,target=/x",
    "--from=0",
    "--from=b",
    "root",
    "TOKEN=abc",
    "https://u:p@h/",
    '["a",',
    '"b"]',
    "source",
    "activate",
    ">>",
    "~/.bashrc",
    "=",
    "\t",
    "\u00e9",
    "\u{1F600}",
    "$(",
    ")",
    "'",
    '"',
  ),
  fc.string({ maxLength: 8 }),
);
const line = fc.tuple(keyword, fc.array(word, { maxLength: 8 })).map(([k, ws]) => [k, ...ws].join(" "));

// generous timeouts: the unit tests share two cores
describe("lint never throws anything but a SlimwheelError", { timeout: 60_000 }, () => {
  it("on random Dockerfile-like text", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("", "FROM python:3.12 AS b", "ARG X=python\nFROM ${X}"),
        fc.array(line, { maxLength: 25 }),
        fc.constantFrom("\n", "\r\n", "\r"),
        (head, lines, eol) => lintsOrRejects([head, ...lines].join(eol)),
      ),
      { numRuns: 250 },
    );
  });

  it("on arbitrary strings", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 400 }), lintsOrRejects), { numRuns: 100 });
    fc.assert(
      fc.property(
        fc.string({ maxLength: 400 }).map((s) => `FROM python\n${s}`),
        lintsOrRejects,
      ),
      { numRuns: 100 },
    );
  });

  it("on mutated corpus files and rule examples", () => {
    const base = [...seeds, ...examples];
    const mutation = fc.record({
      at: fc.nat(),
      del: fc.nat({ max: 40 }),
      insert: fc.oneof(
        word,
        fc.string({ maxLength: 20 }),
        fc.constantFrom("\n", "\\\n", "\n\n", "<<EOF\n", "\nEOF\n"),
      ),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...base),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        (text, ms) => {
          let t = text;
          for (const m of ms) {
            const at = m.at % (t.length + 1);
            t = t.slice(0, at) + m.insert + t.slice(at + m.del);
          }
          lintsOrRejects(t);
        },
      ),
      { numRuns: 300 },
    );
  });
});
