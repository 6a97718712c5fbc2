import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import type { StrategyOptions } from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import { CATALOG } from "./catalog.js";
import type { Strategy } from "./strategy.js";

export const singleLayer: Strategy = {
  ...CATALOG["single-layer"],
  assemble(p: Project, o: StrategyOptions, read): BuildPlan {
    const { deps, needs, build, runtime } = inputs.toolchainInputs(p, o, read);
    const stage = steps.finalStage("${RUNTIME_IMAGE}", "the slim image; everything happens in one layer", [
      ...steps.appStageOpening(p),
      steps.indexArgsFor(deps),
      steps.copyApp(
        "the whole app first (the dependency list is part of it): this is what destroys the cache",
      ),
      {
        kind: "run" as const,
        why: "install build tools, build and install everything, purge the tools (keeping the packages whose libraries the installed extension modules link) and the package lists: all in one layer",
        commands: [
          ...steps.installBuildTools(build, runtime),
          `pip install --no-cache-dir -r ${deps.main}`,
          ...[...steps.installProject(p), ...steps.projectBuildSteps(p)].flatMap((s) =>
            s.kind === "run" ? s.commands : [],
          ),
          ...steps.purgeBuildPackages(build),
        ],
      },
      ...steps.appStageClosing(p, "single-layer", o),
    ]);
    return inputs.makePlan(singleLayer, p, deps, [stage], {
      runtimePackages: needs.runtime,
      buildPackages: build,
    });
  },
};
