import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SlimwheelError } from "../errors.js";
import type { StrategyOptions } from "../plan/common.js";
import { findStrategy, strategies } from "../plan/strategies/index.js";
import type { BuildPlan } from "../plan/types.js";
import type { Project } from "../project/read.js";

/** The plan of `strategyId` for a project (reading setup.py etc. from its directory). */
export function planFor(project: Project, strategyId: string, options: StrategyOptions = {}): BuildPlan {
  const strategy = findStrategy(strategyId);
  if (!strategy) {
    throw new SlimwheelError("usage", `unknown strategy "${strategyId}"`, {
      hint: `choose one of: ${strategies.map((s) => s.id).join(", ")}`,
    });
  }
  const read = (f: string) => {
    try {
      return readFileSync(join(project.dir, f), "utf8");
    } catch {
      return undefined;
    }
  };
  return strategy.assemble(project, options, read);
}
