import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import type { StrategyOptions } from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import type { Strategy } from "./strategy.js";

export const singleLayer: Strategy = {
  id: "single-layer",
  title: "install, build and purge in one RUN",
  summary:
    "The slim image with build tools installed, used and purged in a single RUN, so they never reach a layer: small. But the app is copied before that RUN, so every code change reinstalls every dependency from scratch: the build cache is destroyed.",
  assemble(p: Project, o: StrategyOptions, read): BuildPlan {
    const { deps, needs, build, runtime } = inputs.toolchainInputs(p, o, read);
    const stage = {
      name: "final",
      from: "${RUNTIME_IMAGE}",
      why: "the slim image; everything happens in one layer",
      steps: [
        ...steps.appStageOpening(p),
        steps.indexArgStep,
        steps.copyApp(
          "the whole app first (the dependency list is part of it): this is what destroys the cache",
        ),
        {
          kind: "run" as const,
          why: "install build tools, build and install everything, purge the tools (keeping the packages whose libraries the installed extension modules link) and the package lists: all in one layer",
          commands: [
            ...steps.installBuildTools(build, runtime),
            `pip install --no-cache-dir -r ${deps.main}`,
            ...steps.installProject(p).flatMap((s) => (s.kind === "run" ? s.commands : [])),
            ...steps.purgeBuildPackages(build),
          ],
        },
        ...steps.appStageClosing(p, "single-layer", o),
      ],
    };
    return inputs.makePlan(singleLayer, p, deps, [stage], {
      runtimePackages: needs.runtime,
      buildPackages: build,
    });
  },
};
