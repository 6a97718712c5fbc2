import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readProject } from "../project/read.js";
import { formatPlan, planDocument } from "./plan.js";

const FIXTURES = join(import.meta.dirname, "..", "project", "__fixtures__", "projects");
const plain = { bold: (s: string) => s, dim: (s: string) => s, yellow: (s: string) => s };

describe("plan: what it says about the dependency set", () => {
  it("lists the packages a lock leaves out, with why; says 'with hashes' only when every package has them", async () => {
    const p = await readProject(join(FIXTURES, "uv-fastapi-standard"));
    const text = formatPlan(p, plain);
    expect(text).toMatch(/Dependencies 11 from uv\.lock \(locked, with hashes\)/);
    expect(text).toMatch(/left out \(5\):/);
    expect(text).toMatch(/ {4}pytest 8\.4\.2: only in group dev \(not asked for: --group dev\)/);
    expect(planDocument(p).dependencies.hashChecking).toBe(true);
  });

  it("requirements with -r/-c: the files and how they were reached; hashes on some only are not used", async () => {
    const p = await readProject(join(FIXTURES, "req-nested"));
    const text = formatPlan(p, plain);
    expect(text).toMatch(/files: requirements\.txt, requirements\/base\.txt \(-r from requirements\.txt:2\)/);
    expect(planDocument(p).dependencies.includes[2]).toEqual({
      path: "requirements/constraints.txt",
      kind: "constraints",
      from: "requirements.txt:3",
    });
  });
});
