import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import type { StrategyOptions } from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import { CATALOG } from "./catalog.js";
import type { Strategy } from "./strategy.js";

export const full: Strategy = {
  ...CATALOG.full,
  assemble(p: Project, o: StrategyOptions, read): BuildPlan {
    const deps = inputs.dependencyInput(p);
    const compiled = inputs.appCompiles(p, read);
    return inputs.makePlan(full, p, deps, [
      steps.finalStage("${BUILDER_IMAGE}", "the full image: it can compile anything, and ships all of it", [
        ...steps.appStageOpening(p),
        ...steps.installRequirements(
          deps,
          steps.APP_DIR,
          "dependencies in their own layer; --no-cache-dir keeps pip's download cache out of the layer",
        ),
        steps.copyApp(),
        ...steps.installProject(p, compiled ? "; it compiles here" : ""),
        ...steps.projectBuildSteps(p),
        ...steps.appStageClosing(p, "full", o),
      ]),
    ]);
  },
};
