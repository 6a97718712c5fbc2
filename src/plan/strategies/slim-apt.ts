import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import type { StrategyOptions } from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import type { Strategy } from "./strategy.js";

export const slimApt: Strategy = {
  id: "slim-apt",
  title: "slim + apt-get, removal in a later layer",
  summary:
    "The common habit: the slim image, then `apt-get install` of compilers and -dev packages, the build, and a later RUN that purges them. It builds anything, but layers are append-only: the purge adds a layer and removes nothing from the earlier one, so the compilers still ship (the image is no smaller than without the purge). Runtime libraries are installed explicitly so the purge keeps them.",
  assemble(p: Project, o: StrategyOptions, read): BuildPlan {
    const { deps, needs, build, runtime } = inputs.toolchainInputs(p, o, read);
    const stage = {
      name: "final",
      from: "${RUNTIME_IMAGE}",
      why: "the slim image, made able to compile",
      steps: [
        ...steps.appStageOpening(p),
        {
          kind: "run" as const,
          why: `build tools and headers (${build.join(", ")})${runtime.length ? `, and the runtime libraries marked as wanted so the purge keeps them (${runtime.join(", ")})` : ""}`,
          commands: steps.installBuildTools(build, runtime),
        },
        ...steps.installRequirements(deps, steps.APP_DIR, "dependencies, compiled where needed"),
        steps.copyApp(),
        ...steps.installProject(p),
        {
          kind: "run" as const,
          why: "the habit this strategy shows: purging the build tools in a later layer (keeping the packages whose libraries the installed extension modules link). The earlier layer still holds the tools, so this saves nothing",
          commands: steps.purgeBuildPackages(build),
        },
        ...steps.appStageClosing(p, "slim-apt", o),
      ],
    };
    return inputs.makePlan(slimApt, p, deps, [stage], {
      runtimePackages: needs.runtime,
      buildPackages: build,
    });
  },
};
