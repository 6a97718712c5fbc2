import type { Project } from "../../project/read.js";
import type { StrategyOptions } from "../options.js";
import type { BuildPlan } from "../types.js";

export interface Strategy {
  readonly id: string;
  readonly title: string;
  /** One paragraph: what it does and its trade-off (shown by --help and in the docs). */
  readonly summary: string;
  /**
   * Pure, for strategies that build the dependencies apart (wheels or a venv): a plan of just the
   * artifacts stage and the stages it needs. It does not depend on the runtime needs, so the
   * pipeline builds and reads it before `assemble`; the full plan holds these stages unchanged.
   */
  assembleArtifacts?(
    project: Project,
    options: StrategyOptions,
    read: (file: string) => string | undefined,
  ): BuildPlan;
  /** Pure: the plan for this project. `read` gives the content of a project file (for setup.py checks). */
  assemble(project: Project, options: StrategyOptions, read: (file: string) => string | undefined): BuildPlan;
}
