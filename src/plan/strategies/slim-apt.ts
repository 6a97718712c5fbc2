import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import type { StrategyOptions } from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import { CATALOG } from "./catalog.js";
import type { Strategy } from "./strategy.js";

export const slimApt: Strategy = {
  ...CATALOG["slim-apt"],
  assemble(p: Project, o: StrategyOptions, read): BuildPlan {
    const toolchain = inputs.toolchainInputs(p, o, read);
    const { build, runtime } = toolchain;
    const stage = steps.finalStage("${RUNTIME_IMAGE}", "the slim image, made able to compile", [
      ...steps.appStageOpening(p),
      {
        kind: "run" as const,
        why: `build tools and headers (${build.join(", ")})${runtime.length ? `, and the runtime libraries marked as wanted so the purge keeps them (${runtime.join(", ")})` : ""}`,
        commands: steps.installBuildTools(build, runtime),
      },
      ...steps.installRequirements(toolchain.deps, steps.APP_DIR, "dependencies, compiled where needed"),
      steps.copyApp(),
      ...steps.installProject(p),
      ...steps.projectBuildSteps(p),
      {
        kind: "run" as const,
        why: "the habit this strategy shows: purging the build tools in a later layer (keeping the packages whose libraries the installed extension modules link). The earlier layer still holds the tools, so this saves nothing",
        commands: steps.purgeBuildPackages(build),
      },
      ...steps.appStageClosing(p, "slim-apt", o),
    ]);
    return inputs.makePlan(slimApt, p, toolchain.deps, [stage], {
      runtimePackages: toolchain.needs.runtime,
      buildPackages: build,
    });
  },
};
