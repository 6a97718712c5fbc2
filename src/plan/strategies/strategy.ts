import type { Project } from "../../project/read.js";
import type { StrategyOptions } from "../common.js";
import type { BuildPlan } from "../types.js";

export interface Strategy {
  readonly id: string;
  readonly title: string;
  /** One paragraph: what it does and its trade-off (shown by --help and in the docs). */
  readonly summary: string;
  /** Pure: the plan for this project. `read` gives the content of a project file (for setup.py checks). */
  assemble(project: Project, options: StrategyOptions, read: (file: string) => string | undefined): BuildPlan;
}
