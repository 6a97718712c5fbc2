import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import * as options from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import type { Strategy } from "./strategy.js";

export const slimApt: Strategy = {
  id: "slim-apt",
  title: "slim + apt-get, removal in a later layer",
  summary:
    "The common habit: the slim image, then `apt-get install` of compilers and -dev packages, the build, and a later RUN that purges them. It builds anything, but layers are append-only: the purge adds a layer and removes nothing from the earlier one, so the compilers still ship (the image is no smaller than without the purge). Runtime libraries are installed explicitly so the purge keeps them.",
  assemble(p: Project, o: options.StrategyOptions, read): BuildPlan {
    const deps = inputs.dependencyInput(p);
    const needs = inputs.systemNeeds(p, "debian", o, inputs.appCompiles(p, read));
    const build = [...new Set([...steps.KNOWN_TOOLCHAIN, ...needs.build])];
    const runtime = needs.runtime.map((n) => n.name);
    return inputs.makePlan(
      slimApt,
      p,
      deps,
      [
        {
          name: "final",
          from: "${RUNTIME_IMAGE}",
          why: "the slim image, made able to compile",
          steps: [
            steps.runtimeEnv(p),
            { kind: "workdir", why: "the app's home", path: options.APP_DIR },
            {
              kind: "run",
              why: `build tools and headers (${build.join(", ")})${runtime.length ? `, and the runtime libraries marked as wanted so the purge keeps them (${runtime.join(", ")})` : ""}`,
              commands: [
                "apt-get update",
                `apt-get install -y --no-install-recommends ${[...build, ...runtime].join(" ")} ${steps.PYTHON_DEV_IF_MISSING}`,
              ],
            },
            steps.indexArgStep,
            ...steps.copyDependencyFiles(deps, options.APP_DIR),
            {
              kind: "run",
              why: "dependencies, compiled where needed",
              commands: [`pip install --no-cache-dir -r ${deps.main}`],
            },
            steps.copyApp(),
            ...(p.installable
              ? [
                  {
                    kind: "run" as const,
                    why: `install the project itself (${p.installable.reason})`,
                    commands: ["pip install --no-cache-dir --no-deps ."],
                  },
                ]
              : []),
            {
              kind: "run",
              why: "the habit this strategy shows: purging the build tools in a later layer (keeping the packages whose libraries the installed extension modules link). The earlier layer still holds the tools, so this saves nothing",
              commands: steps.purgeBuildPackages(build),
            },
            steps.labels(p, "slim-apt", o),
            ...steps.startSteps(p),
          ],
        },
      ],
      { runtimePackages: needs.runtime, buildPackages: build },
    );
  },
};
