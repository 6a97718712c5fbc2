/**
 * The assemble phase: a strategy turns the project (and, once known, the runtime needs read from
 * the built artifacts) into a BuildPlan. Pure but for reading project files the strategy asks for.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SlimwheelError } from "../errors.js";
import type { StrategyOptions } from "../plan/options.js";
import { findStrategy, type Strategy, strategies } from "../plan/strategies/index.js";
import type { BuildPlan } from "../plan/types.js";
import type { Project } from "../project/read.js";

/** The strategy named `id`, or a usage error listing the known ones. */
export function strategyNamed(id: string): Strategy {
  const strategy = findStrategy(id);
  if (!strategy) {
    throw new SlimwheelError("usage", `unknown strategy "${id}"`, {
      hint: `choose one of: ${strategies.map((s) => s.id).join(", ")}`,
    });
  }
  return strategy;
}

const reader = (project: Project) => (f: string) => {
  try {
    return readFileSync(join(project.dir, f), "utf8");
  } catch {
    return undefined;
  }
};

/** The whole plan of `strategyId` for a project; refusals are input errors. */
export function assemblePlan(project: Project, strategyId: string, options: StrategyOptions = {}): BuildPlan {
  return strategyNamed(strategyId).assemble(project, options, reader(project));
}

/**
 * The plan of only the strategy's artifacts stage (and the stages it needs), for reading the
 * runtime needs before the whole plan is assembled; undefined for strategies without one.
 */
export function assembleArtifacts(
  project: Project,
  strategyId: string,
  options: StrategyOptions = {},
): BuildPlan | undefined {
  return strategyNamed(strategyId).assembleArtifacts?.(project, options, reader(project));
}
