import type { Project } from "../../project/read.js";
import * as c from "../common.js";
import type { BuildPlan } from "../types.js";
import type { Strategy } from "./strategy.js";

export const singleLayer: Strategy = {
  id: "single-layer",
  title: "install, build and purge in one RUN",
  summary:
    "The slim image with build tools installed, used and purged in a single RUN, so they never reach a layer: small. But the app is copied before that RUN, so every code change reinstalls every dependency from scratch: the build cache is destroyed.",
  assemble(p: Project, o: c.StrategyOptions, read): BuildPlan {
    const deps = c.dependencyInput(p);
    const needs = c.systemNeeds(p, "debian", o, c.appCompiles(p, read));
    const build = [...new Set([...c.KNOWN_TOOLCHAIN, ...needs.build])];
    const runtime = needs.runtime.map((n) => n.name);
    return c.makePlan(
      singleLayer,
      p,
      deps,
      [
        {
          name: "final",
          from: "${RUNTIME_IMAGE}",
          why: "the slim image; everything happens in one layer",
          steps: [
            c.runtimeEnv(p),
            { kind: "workdir", why: "the app's home", path: c.APP_DIR },
            c.indexArgStep,
            {
              kind: "copy",
              why: "the whole app first (the dependency list is part of it): this is what destroys the cache",
              sources: ["."],
              dest: `${c.APP_DIR}/`,
            },
            {
              kind: "run",
              why: "install build tools, build and install everything, purge the tools (keeping the packages whose libraries the installed extension modules link) and the package lists: all in one layer",
              commands: [
                "apt-get update",
                `apt-get install -y --no-install-recommends ${[...build, ...runtime].join(" ")} ${c.PYTHON_DEV_IF_MISSING}`,
                `pip install --no-cache-dir -r ${deps.main}`,
                ...(p.installable ? ["pip install --no-cache-dir --no-deps ."] : []),
                ...c.purgeBuildPackages(build),
              ],
            },
            c.labels(p, "single-layer", o),
            ...c.startSteps(p),
          ],
        },
      ],
      { runtimePackages: needs.runtime, buildPackages: build },
    );
  },
};
