import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../../errors.js";
import type { SourceId } from "../types.js";
import { sourceFormats } from "./index.js";

const FIXTURES = join(import.meta.dirname, "..", "__fixtures__", "projects");

/** A real file of each format, and a malformed one that must fail with a location in the file. */
const samples: Record<SourceId, { good: string; bad?: string } | undefined> = {
  pylock: { good: "pylock-app/pylock.toml", bad: 'lock-version = "1.0"\npackages = [\n' },
  "uv-lock": { good: "uv-service/uv.lock", bad: "version = 1\n[[package]]\nname = \n" },
  "poetry-lock": {
    good: "poetry-api/poetry.lock",
    bad: '[[package]]\nname = "x"\nversion = "1"\nfiles = [{file = }]\n',
  },
  "pipfile-lock": { good: "pipenv-django/Pipfile.lock", bad: '{\n  "default": {\n    "x": \n' },
  requirements: { good: "req-nested/requirements/base.txt", bad: "flask==2.2.2\ndjango>=\n" },
  pyproject: { good: "poetry-api/pyproject.toml", bad: '[project]\nname = "x"\ndependencies = "flask"\n' },
  pipfile: { good: "pipenv-django/Pipfile", bad: "[packages]\ndjango = ==4.2\n" },
  "setup-cfg": { good: "setupcfg-worker/setup.cfg", bad: "name = x\n" },
  "setup-py": { good: "setuppy-literal/setup.py" },
  "python-version": { good: "req-nested/.python-version", bad: "\npypy3.9\n" },
  "runtime-txt": { good: "runtime-flask/runtime.txt", bad: "python3\n" },
  poetry: undefined,
};

describe("every source format", () => {
  it("has a unique id and at least one file name", () => {
    const ids = sourceFormats.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const f of sourceFormats) expect(f.files.length).toBeGreaterThan(0);
  });

  for (const format of sourceFormats) {
    describe(format.id, () => {
      const sample = samples[format.id];
      it("has a fixture", () => expect(sample).toBeDefined());
      if (!sample) return;

      it("parses its fixture into facts about that file", () => {
        const path = sample.good.split("/").slice(1).join("/");
        const facts = format.parse(readFileSync(join(FIXTURES, sample.good), "utf8"), path);
        expect(facts.file).toBe(path);
        expect([format.id, "poetry"]).toContain(facts.source);
        expect(Array.isArray(facts.warnings)).toBe(true);
        const says = Boolean(facts.requirements?.length || facts.locked?.length || facts.python);
        expect(says).toBe(true);
      });

      if (sample.bad !== undefined) {
        it("reports malformed content as an input error located in the file", () => {
          try {
            format.parse(sample.bad!, `dir/${format.files[0]}`);
            expect.unreachable();
          } catch (e) {
            expect(isSlimwheelError(e)).toBe(true);
            if (!isSlimwheelError(e)) return;
            expect(e.code).toBe("input");
            expect(e.location).toMatch(new RegExp(`^dir/${format.files[0]!.replace(/\./g, "\\.")}(:\\d+)?`));
          }
        });
      }

      it("throws nothing but the typed error on arbitrary content (fuzz)", () => {
        fc.assert(
          fc.property(fc.string({ maxLength: 200 }), (text) => {
            try {
              format.parse(text, format.files[0]!);
            } catch (e) {
              if (!isSlimwheelError(e) || e.code !== "input") throw e;
            }
          }),
          { numRuns: 1000 },
        );
      });
    });
  }
});
