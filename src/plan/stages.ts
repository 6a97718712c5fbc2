/** Pure queries over a plan's stages: which stages a stage is built from, which it bind-mounts. */
import type { BuildPlan, Stage } from "./types.js";

/** The stage and every stage it is built from (its FROM, COPY --from and mount from=), in plan order. */
export function stageClosure(plan: BuildPlan, name: string): Stage[] {
  const byName = new Map(plan.stages.map((s) => [s.name, s]));
  const seen = new Set<string>();
  const visit = (n: string) => {
    const s = byName.get(n);
    if (!s || seen.has(n)) return;
    seen.add(n);
    visit(s.from);
    for (const step of s.steps) {
      if (step.kind === "copy" && step.from) visit(step.from);
      if (step.kind === "run")
        for (const m of step.mounts ?? []) if (m.type === "bind" && m.from) visit(m.from);
    }
  };
  visit(name);
  return plan.stages.filter((s) => seen.has(s.name));
}

/**
 * The stages that building `target` bind-mounts (`RUN --mount=type=bind,from=STAGE`), in plan
 * order: read from the plan's mounts, never from a rendered Dockerfile.
 */
export function mountedStages(plan: BuildPlan, target: string): string[] {
  const names = new Set(plan.stages.map((s) => s.name));
  const out = new Set<string>();
  for (const s of stageClosure(plan, target))
    for (const step of s.steps)
      if (step.kind === "run")
        for (const m of step.mounts ?? [])
          if (m.type === "bind" && m.from && names.has(m.from)) out.add(m.from);
  return plan.stages.map((s) => s.name).filter((n) => out.has(n));
}
