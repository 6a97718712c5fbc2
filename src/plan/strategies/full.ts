import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import type { StrategyOptions } from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import type { Strategy } from "./strategy.js";

export const full: Strategy = {
  id: "full",
  title: "full image, one stage",
  summary:
    "One stage on the full Python image (Debian with compilers, headers and many -dev libraries), dependencies installed in their own layer before the app code. Everything builds, nothing is missing at run time, but roughly a gigabyte of build tools ships to production.",
  assemble(p: Project, o: StrategyOptions, read): BuildPlan {
    const deps = inputs.dependencyInput(p);
    const compiled = inputs.appCompiles(p, read);
    return inputs.makePlan(full, p, deps, [
      {
        name: "final",
        from: "${BUILDER_IMAGE}",
        why: "the full image: it can compile anything, and ships all of it",
        steps: [
          ...steps.appStageOpening(p),
          ...steps.installRequirements(
            deps,
            steps.APP_DIR,
            "dependencies in their own layer; --no-cache-dir keeps pip's download cache out of the layer",
          ),
          steps.copyApp(),
          ...steps.installProject(p, compiled ? "; it compiles here" : ""),
          ...steps.appStageClosing(p, "full", o),
        ],
      },
    ]);
  },
};
