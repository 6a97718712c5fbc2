import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../../errors.js";
import { type Project, readProject } from "../../project/read.js";
import { renderDockerfile } from "../../render/dockerfile/index.js";
import { INDEX_ARGS } from "../options.js";
import { DEFAULT_STRATEGY, findStrategy, strategies } from "./index.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const dirs = [
  ...["flask-app", "django-postgres", "c-extension", "data-tools"].map((d) => join(ROOT, "examples", d)),
  ...readdirSync(join(ROOT, "src", "project", "__fixtures__", "projects")).map((d) =>
    join(ROOT, "src", "project", "__fixtures__", "projects", d),
  ),
];
const projects: Project[] = [];
for (const d of dirs) projects.push(await readProject(d));
const reader = (p: Project) => (f: string) => {
  try {
    return readFileSync(join(p.dir, f), "utf8");
  } catch {
    return undefined;
  }
};

describe("the strategy registry", () => {
  it("has the eight strategies with unique ids, and the default among them", () => {
    expect(strategies.map((s) => s.id)).toEqual([
      "full",
      "slim",
      "slim-apt",
      "single-layer",
      "wheels",
      "venv",
      "alpine",
      "slimwheel",
    ]);
    expect(findStrategy(DEFAULT_STRATEGY)).toBeDefined();
    for (const s of strategies) expect(s.summary.length).toBeGreaterThan(100);
  });
});

/**
 * The only refusals there should be: `slim` has no compiler and no system libraries, so it refuses
 * projects that need either. Any other refusal is a strategy failing a project it should build.
 */
const EXPECTED_REFUSALS: Readonly<Record<string, readonly string[]>> = {
  slim: ["django-postgres", "c-extension", "data-tools", "configured", "pipenv-django", "setuppy-literal"],
};

describe.each(strategies.map((s) => [s.id, s] as const))("strategy %s", (_id, strategy) => {
  it.each(
    projects.map((p) => [p.dir.split("/").at(-1)!, p] as const),
  )("plans %s, or refuses it exactly when that refusal is expected", (name, project) => {
    const refusalExpected = (EXPECTED_REFUSALS[strategy.id] ?? []).includes(name);
    let plan: ReturnType<typeof strategy.assemble>;
    try {
      plan = strategy.assemble(project, {}, reader(project));
    } catch (e) {
      expect(isSlimwheelError(e) && e.code === "input").toBe(true);
      expect(refusalExpected, `${strategy.id} refused ${name}: ${(e as Error).message}`).toBe(true);
      return;
    }
    expect(refusalExpected, `${strategy.id} should refuse ${name}`).toBe(false);
    expect(plan.strategy).toBe(strategy.id);
    const final = plan.stages.at(-1)!;
    expect(final.name).toBe("final");
    // Stage references point only at earlier stages or build arguments.
    const names = plan.stages.map((s) => s.name);
    plan.stages.forEach((s, i) => {
      expect(s.from.startsWith("${") || names.slice(0, i).includes(s.from)).toBe(true);
      for (const step of s.steps) {
        if (step.kind === "copy" && step.from) expect(names.slice(0, i)).toContain(step.from);
        if (step.kind === "run")
          for (const m of step.mounts ?? [])
            if (m.type === "bind" && m.from) expect(names.slice(0, i)).toContain(m.from);
        expect(step.why.length).toBeGreaterThan(5);
      }
    });
    // Never ENV for index settings (ENV persists in the image).
    for (const s of plan.stages)
      for (const step of s.steps)
        if (step.kind === "env")
          for (const k of Object.keys(step.vars)) expect(INDEX_ARGS as readonly string[]).not.toContain(k);
    // The app is copied, the start command is the project's.
    expect(final.steps.some((st) => st.kind === "label")).toBe(true);
    if (project.start)
      expect(final.steps.find((st) => st.kind === "cmd")).toMatchObject({ command: project.start.command });
    // Assembling and rendering are deterministic: a second, independent assembly renders the same text.
    const text = renderDockerfile(plan, { version: "1.2.3" });
    const again = strategy.assemble(structuredClone(project), {}, reader(project));
    expect(again).not.toBe(plan);
    expect(renderDockerfile(again, { version: "1.2.3" })).toBe(text);
    // The artifacts plan, built before the runtime needs are known, holds the very stages the full plan has.
    const artifacts = strategy.assembleArtifacts?.(project, {}, reader(project));
    if (artifacts) {
      expect(artifacts.artifacts).toEqual(plan.artifacts);
      for (const s of artifacts.stages) expect(plan.stages.find((x) => x.name === s.name)).toEqual(s);
      expect(artifacts.stages.map((s) => s.name)).toContain(plan.artifacts?.stage);
    } else expect(plan.artifacts).toBeUndefined();
    expect(text).not.toMatch(/^# syntax=/m);
  });
});

describe("slimwheel's own guarantees", () => {
  const django = projects.find((p) => p.dir.endsWith("django-postgres"))!;
  const plan = findStrategy("slimwheel")!.assemble(django, {}, reader(django));
  const final = plan.stages.at(-1)!;

  it("installs dependencies through a bind mount, never COPY, and the final stage never sees an index", () => {
    expect(final.steps.some((s) => s.kind === "copy" && s.from)).toBe(false);
    expect(
      final.steps.some(
        (s) => s.kind === "run" && s.mounts?.some((m) => m.type === "bind" && m.from === "deps"),
      ),
    ).toBe(true);
    expect(final.steps.some((s) => s.kind === "arg")).toBe(false);
  });

  it("orders layers base → system libraries → dependencies → app, runs as non-root", () => {
    const kinds = final.steps
      .filter((s) => s.kind === "run" || s.kind === "copy")
      .map((s) =>
        s.kind === "copy" ? "app" : /apt-get install/.test(s.commands.join()) ? "system" : "deps",
      );
    expect(kinds).toEqual(["system", "deps", "app"]);
    expect(final.steps.find((s) => s.kind === "user")).toMatchObject({ user: "10001:10001" });
    expect(plan.runtimePackages.map((r) => r.name)).toEqual(["libpq5"]);
  });

  it("keeps pip's cache out of every layer", () => {
    for (const s of plan.stages)
      for (const st of s.steps)
        if (st.kind === "run" && /pip (wheel|install)/.test(st.commands.join())) {
          expect(
            /--no-cache-dir/.test(st.commands.join()) || st.mounts?.some((m) => m.type === "cache"),
          ).toBe(true);
        }
  });

  it("can leave out a runtime package on request (to prove the import test can fail)", () => {
    const without = findStrategy("slimwheel")!.assemble(
      django,
      { withoutRuntimePackages: ["libpq5"] },
      reader(django),
    );
    expect(without.runtimePackages).toEqual([]);
  });
});
