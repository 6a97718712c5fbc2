import { describe, expect, it } from "vitest";
import { SlimwheelError } from "../errors.js";
import {
  choosePython,
  constraintAllows,
  DEFAULT_PYTHON,
  END_OF_LIFE_PYTHONS,
  PYTHONS_CHECKED,
  SUPPORTED_PYTHONS,
} from "./python-version.js";
import type { SourceFacts, SourceId, SourceWarning } from "./types.js";

const facts = (source: SourceId, kind: "exact" | "constraint", value: string): SourceFacts => ({
  source,
  file: source === "python-version" ? ".python-version" : "pyproject.toml",
  python: {
    kind,
    value,
    at: { file: source === "python-version" ? ".python-version" : "pyproject.toml", line: 4 },
  },
  warnings: [],
});
const choose = (...fs: SourceFacts[]) => {
  const warnings: SourceWarning[] = [];
  return { choice: choosePython(fs, undefined, warnings), warnings: warnings.map((w) => w.message) };
};

describe("the Python list is data", () => {
  it("lists 3.10–3.15 with 3.14 the default, 3.9 end of life, and the date checked", () => {
    expect(SUPPORTED_PYTHONS).toEqual(["3.15", "3.14", "3.13", "3.12", "3.11", "3.10"]);
    expect(DEFAULT_PYTHON).toBe("3.14");
    expect(END_OF_LIFE_PYTHONS).toContain("3.9");
    expect(PYTHONS_CHECKED).toBe("2026-11-24");
  });
});

describe("choosePython", () => {
  it("nothing declared: the default 3.14", () => {
    expect(choose().choice).toMatchObject({ version: "3.14", from: "default" });
  });
  it('requires-python ">=3.14" picks 3.14 with no warning', () => {
    const r = choose(facts("pyproject", "constraint", ">=3.14"));
    expect(r.choice.version).toBe("3.14");
    expect(r.warnings).toEqual([]);
  });
  it('">=3.15" picks 3.15; ">=3.10,<3.13" picks 3.12', () => {
    expect(choose(facts("pyproject", "constraint", ">=3.15")).choice.version).toBe("3.15");
    expect(choose(facts("pyproject", "constraint", ">=3.10,<3.13")).choice.version).toBe("3.12");
  });
  it(".python-version 3.14 works without warning", () => {
    const r = choose(facts("python-version", "exact", "3.14"));
    expect(r.choice).toMatchObject({ version: "3.14", from: ".python-version:4" });
    expect(r.warnings).toEqual([]);
  });
  it("Poetry's ^3.11 (pyproject and poetry.lock) gives 3.14 and no false warning", () => {
    const r = choose(facts("poetry", "constraint", "^3.11"), facts("poetry-lock", "constraint", "^3.11"));
    expect(r.choice.version).toBe("3.14");
    expect(r.warnings).toEqual([]);
  });
  it("Poetry unions: every alternative counts", () => {
    expect(constraintAllows("~3.8 || ^3.13", "3.14")).toBe(true);
    expect(constraintAllows("~3.8 || ^3.13", "3.11")).toBe(false);
  });
  it("a version newer than the list: said and used, never an excluded one", () => {
    const r = choose(facts("pyproject", "constraint", ">=3.16"));
    expect(r.choice.version).toBe("3.16");
    expect(r.warnings.join("\n")).toMatch(/3\.16 is not in slimwheel's list/);
  });
  it("an end-of-life version is warned about", () => {
    const r = choose(facts("pyproject", "constraint", "<3.10"));
    expect(r.choice.version).toBe("3.9");
    expect(r.warnings.join("\n")).toMatch(/past end of life/);
    expect(choose(facts("python-version", "exact", "3.9")).warnings.join("\n")).toMatch(/end of life/);
  });
  it("a constraint allowing nothing fails with an input error naming file:line", () => {
    expect(() => choose(facts("pyproject", "constraint", ">=3.14,<3.12"))).toThrow(SlimwheelError);
    expect(() => choose(facts("pyproject", "constraint", ">=3.14,<3.12"))).toThrow(/pyproject\.toml:4/);
  });
  it("never resolves to a version the constraint excludes", () => {
    for (const c of [">=3.11,<3.14", "~=3.12.0", "==3.13.*", ">3.14", "^3.10", "~3.12"]) {
      const v = choose(facts("pyproject", "constraint", c)).choice.version;
      expect(constraintAllows(c, v), `${c} → ${v}`).toBe(true);
    }
  });
});
