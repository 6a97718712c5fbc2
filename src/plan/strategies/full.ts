import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import * as options from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import type { Strategy } from "./strategy.js";

export const full: Strategy = {
  id: "full",
  title: "full image, one stage",
  summary:
    "One stage on the full Python image (Debian with compilers, headers and many -dev libraries), dependencies installed in their own layer before the app code. Everything builds, nothing is missing at run time, but roughly a gigabyte of build tools ships to production.",
  assemble(p: Project, o: options.StrategyOptions, read): BuildPlan {
    const deps = inputs.dependencyInput(p);
    const compiled = inputs.appCompiles(p, read);
    return inputs.makePlan(full, p, deps, [
      {
        name: "final",
        from: "${BUILDER_IMAGE}",
        why: "the full image: it can compile anything, and ships all of it",
        steps: [
          steps.runtimeEnv(p),
          { kind: "workdir", why: "the app's home", path: options.APP_DIR },
          steps.indexArgStep,
          ...steps.copyDependencyFiles(deps, options.APP_DIR),
          {
            kind: "run",
            why: "dependencies in their own layer; --no-cache-dir keeps pip's download cache out of the layer",
            commands: [`pip install --no-cache-dir -r ${deps.main}`],
          },
          steps.copyApp(),
          ...(p.installable
            ? [
                {
                  kind: "run" as const,
                  why: `install the project itself (${p.installable.reason})${compiled ? "; it compiles here" : ""}`,
                  commands: ["pip install --no-cache-dir --no-deps ."],
                },
              ]
            : []),
          steps.labels(p, "full", o),
          ...steps.startSteps(p),
        ],
      },
    ]);
  },
};
