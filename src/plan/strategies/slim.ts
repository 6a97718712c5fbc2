import { SlimwheelError } from "../../errors.js";
import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import type { StrategyOptions } from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import { CATALOG } from "./catalog.js";
import type { Strategy } from "./strategy.js";

export const slim: Strategy = {
  ...CATALOG.slim,
  assemble(p: Project, o: StrategyOptions, read): BuildPlan {
    const needs = inputs.systemNeeds(p, "debian", o, inputs.appCompiles(p, read));
    if (inputs.appCompiles(p, read)) {
      throw new SlimwheelError(
        "input",
        "the slim strategy cannot build this project: it has its own C extension and the slim image has no compiler",
        {
          hint: "use slimwheel (the default), wheels, venv or slim-apt",
        },
      );
    }
    if (needs.runtime.length) {
      const first = needs.runtime[0]!;
      throw new SlimwheelError(
        "input",
        `the slim strategy cannot build this project: it needs system packages the slim image lacks (${needs.runtime.map((n) => n.name).join(", ")}; ${first.name}: ${first.why})`,
        { hint: "use slimwheel (the default), wheels or venv, which install runtime libraries; or slim-apt" },
      );
    }
    const deps = inputs.dependencyInput(p);
    return inputs.makePlan(slim, p, deps, [
      steps.finalStage(
        "${RUNTIME_IMAGE}",
        "the slim image: no compilers, so every dependency must come as a wheel",
        [
          ...steps.appStageOpening(p),
          ...steps.installRequirements(
            deps,
            steps.APP_DIR,
            "binary wheels only: a dependency without one stops here with pip's 'no matching distribution' rather than a compiler error",
            "--no-cache-dir --only-binary=:all:",
          ),
          steps.copyApp(),
          ...steps.installProject(p),
          ...steps.projectBuildSteps(p),
          ...steps.appStageClosing(p, "slim", o),
        ],
      ),
    ]);
  },
};
