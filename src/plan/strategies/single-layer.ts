import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import * as options from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import type { Strategy } from "./strategy.js";

export const singleLayer: Strategy = {
  id: "single-layer",
  title: "install, build and purge in one RUN",
  summary:
    "The slim image with build tools installed, used and purged in a single RUN, so they never reach a layer: small. But the app is copied before that RUN, so every code change reinstalls every dependency from scratch: the build cache is destroyed.",
  assemble(p: Project, o: options.StrategyOptions, read): BuildPlan {
    const deps = inputs.dependencyInput(p);
    const needs = inputs.systemNeeds(p, "debian", o, inputs.appCompiles(p, read));
    const build = [...new Set([...steps.KNOWN_TOOLCHAIN, ...needs.build])];
    const runtime = needs.runtime.map((n) => n.name);
    return inputs.makePlan(
      singleLayer,
      p,
      deps,
      [
        {
          name: "final",
          from: "${RUNTIME_IMAGE}",
          why: "the slim image; everything happens in one layer",
          steps: [
            steps.runtimeEnv(p),
            { kind: "workdir", why: "the app's home", path: options.APP_DIR },
            steps.indexArgStep,
            {
              kind: "copy",
              why: "the whole app first (the dependency list is part of it): this is what destroys the cache",
              sources: ["."],
              dest: `${options.APP_DIR}/`,
            },
            {
              kind: "run",
              why: "install build tools, build and install everything, purge the tools (keeping the packages whose libraries the installed extension modules link) and the package lists: all in one layer",
              commands: [
                "apt-get update",
                `apt-get install -y --no-install-recommends ${[...build, ...runtime].join(" ")} ${steps.PYTHON_DEV_IF_MISSING}`,
                `pip install --no-cache-dir -r ${deps.main}`,
                ...(p.installable ? ["pip install --no-cache-dir --no-deps ."] : []),
                ...steps.purgeBuildPackages(build),
              ],
            },
            steps.labels(p, "single-layer", o),
            ...steps.startSteps(p),
          ],
        },
      ],
      { runtimePackages: needs.runtime, buildPackages: build },
    );
  },
};
