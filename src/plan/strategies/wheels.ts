import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import * as options from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import { CATALOG } from "./catalog.js";
import type { Strategy } from "./strategy.js";

/** The artifacts stage, as the classic recipe writes it. */
const WHEELS = steps.wheelsArtifacts("dep-builder");

export const wheels: Strategy = {
  ...CATALOG.wheels,
  assembleArtifacts: (p, o, read) => inputs.artifactsPlan(wheels, p, o, read, WHEELS.stage, WHEELS.artifacts),

  assemble(p: Project, o: options.StrategyOptions, read): BuildPlan {
    const { deps, needs } = inputs.debianInputs(p, o, read);
    return inputs.makePlan(
      wheels,
      p,
      deps,
      [
        WHEELS.stage(deps, needs),
        {
          name: "base",
          from: "${RUNTIME_IMAGE}",
          why: "the slim image with the dependencies installed from the wheels",
          steps: [
            steps.runtimeEnv(p),
            ...steps.runtimePackagesStep(needs.runtime),
            {
              kind: "copy",
              why: "the wheels: this layer stores them a second time (the caveat of this strategy, which it exists to show: slimwheel's own strategy installs them through a bind mount instead)",
              from: "dep-builder",
              sources: ["/build/dist"],
              dest: "/wheels",
            },
            {
              kind: "run",
              why: "install exactly the wheels the builder built, by file: no index, no compiler; the builder resolved the set (and checked any hashes), so -r/-c includes need nothing here",
              commands: ["pip install --no-cache-dir --no-index --no-deps /wheels/*.whl"],
              lintIgnore: ["wheels-stored-twice"],
            },
          ],
        },
        ...(p.installable
          ? [
              {
                name: "app-builder",
                from: "${BUILDER_IMAGE}",
                why: "builds the app's own wheel",
                steps: steps.appWheelSteps(p, "/dist", steps.APP_TREE, false),
              },
            ]
          : []),
        steps.finalStage("base", "base plus the app", [
          { kind: "workdir", why: "the app's home", path: options.APP_DIR },
          ...(p.installable
            ? [
                {
                  kind: "copy" as const,
                  why: "the app's wheel, stored twice too (the same caveat)",
                  from: "app-builder",
                  sources: ["/dist"],
                  dest: "/app-dist",
                },
                {
                  kind: "run" as const,
                  why: "install the app's wheel",
                  commands: ["pip install --no-cache-dir --no-index --no-deps /app-dist/*.whl"],
                  lintIgnore: ["wheels-stored-twice"],
                },
              ]
            : []),
          steps.copyAppCode(p, "app-builder"),
          ...steps.projectBuildSteps(p),
          ...steps.appStageClosing(p, "wheels", o),
        ]),
      ],
      {
        runtimePackages: needs.runtime,
        buildPackages: needs.build,
        artifacts: WHEELS.artifacts,
      },
    );
  },
};
