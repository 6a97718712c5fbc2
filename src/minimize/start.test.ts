import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { execForm, splitWords } from "./start.js";

/** Runs the exec form on this machine, as the image would (python3 is here too). */
const run = (argv: string[], env: Record<string, string> = {}) =>
  execFileSync(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });

const ARGV = "python3 -c 'import sys; print(sys.argv[1:])'";

// Some cases start python3: a generous timeout on a loaded machine.
describe("start commands without a shell", { timeout: 60_000 }, () => {
  it("splits a plain command into exec form", () => {
    expect(execForm("gunicorn app:app")).toEqual(["gunicorn", "app:app"]);
    expect(execForm(`${ARGV} "a b" c\\ d`)).toEqual([
      "python3",
      "-c",
      "import sys; print(sys.argv[1:])",
      "a b",
      "c d",
    ]);
  });

  it("runs a command with ${PORT:-N} through the launcher, which honours PORT and its default", () => {
    const argv = execForm(`${ARGV} --bind 0.0.0.0:\${PORT:-8000} 'pkg:create()'`);
    expect(argv[0]).toBe("python3");
    expect(run(argv).trim()).toBe("['--bind', '0.0.0.0:8000', 'pkg:create()']");
    expect(run(argv, { PORT: "9001" }).trim()).toBe("['--bind', '0.0.0.0:9001', 'pkg:create()']");
  });

  it("expands a bare $PORT too (the Procfile form), and ${PORT} beside it", () => {
    const argv = execForm(`${ARGV} --bind 0.0.0.0:$PORT --workers \${WORKERS}`);
    expect(run(argv, { PORT: "9002", WORKERS: "3" }).trim()).toBe(
      "['--bind', '0.0.0.0:9002', '--workers', '3']",
    );
  });

  it("refuses what only a shell can do, with a hint", () => {
    for (const c of ["a | b", "a && b", "a > f", "echo $(date)"]) {
      try {
        execForm(c);
        expect.unreachable();
      } catch (e) {
        expect(isSlimwheelError(e) && e.code === "input").toBe(true);
      }
    }
  });

  it("splits back into the words that POSIX quoting joined", () => {
    const word = fc.stringMatching(/^[a-zA-Z0-9_.:=/ '-]{0,12}$/);
    fc.assert(
      fc.property(fc.array(word, { maxLength: 4 }), (words) => {
        const line = words.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(" ");
        expect(splitWords(line)).toEqual(words);
      }),
      { numRuns: 300 },
    );
  });
});
