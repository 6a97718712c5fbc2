import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import * as options from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan, Stage } from "../types.js";
import type { Strategy } from "./strategy.js";

const ARTIFACTS = { stage: "dep-builder", path: "/build/dist" } as const;

/** The artifacts stage. */
function artifactsStage(deps: inputs.DependencyInput, needs: inputs.Needs): Stage {
  return {
    name: "dep-builder",
    from: "${BUILDER_IMAGE}",
    why: "builds a wheel of every dependency, compiling where needed",
    steps: steps.buildWheels(deps, needs, {
      wheelDir: "/build/dist",
      why: "a wheel for every dependency (resolved and downloaded here, never in the final image)",
      cacheMount: false,
    }),
  };
}

export const wheels: Strategy = {
  id: "wheels",
  title: "four stages: dep-builder, base, app-builder, final",
  summary:
    "Four stages: dep-builder (full image) runs `pip wheel` for every dependency; base (slim) copies the wheels in and installs them with --no-index; app-builder (full) builds the app's wheel; final is base plus the app wheel. No compilers ship, but the wheels are stored twice (the COPY layer and the installed files), and wrapper libraries that call executables still need those programs added.",
  assembleArtifacts: (p, o, read) => inputs.artifactsPlan(wheels, p, o, read, artifactsStage, ARTIFACTS),

  assemble(p: Project, o: options.StrategyOptions, read): BuildPlan {
    const { deps, needs } = inputs.debianInputs(p, o, read);
    return inputs.makePlan(
      wheels,
      p,
      deps,
      [
        artifactsStage(deps, needs),
        {
          name: "base",
          from: "${RUNTIME_IMAGE}",
          why: "the slim image with the dependencies installed from the wheels",
          steps: [
            steps.runtimeEnv(p),
            ...steps.runtimePackagesStep(needs.runtime),
            {
              kind: "copy",
              why: "the wheels: this layer stores them a second time (the caveat of this strategy)",
              from: "dep-builder",
              sources: ["/build/dist"],
              dest: "/wheels",
            },
            {
              kind: "run",
              why: "install from the local wheels only: no index, no compiler",
              commands: [
                "pip install --no-cache-dir --no-index --find-links /wheels -r /wheels/requirements.txt",
              ],
            },
          ],
        },
        ...(p.installable
          ? [
              {
                name: "app-builder",
                from: "${BUILDER_IMAGE}",
                why: "builds the app's own wheel",
                steps: [
                  steps.indexArgStep,
                  { kind: "copy" as const, why: "the app's source", sources: ["."], dest: "/src/" },
                  {
                    kind: "run" as const,
                    why: `the app's wheel (${p.installable.reason}); its build requirements come from the index`,
                    commands: ["pip wheel --no-cache-dir --no-deps --wheel-dir /dist /src"],
                  },
                ],
              },
            ]
          : []),
        {
          name: "final",
          from: "base",
          why: "base plus the app",
          steps: [
            { kind: "workdir", why: "the app's home", path: options.APP_DIR },
            ...(p.installable
              ? [
                  {
                    kind: "copy" as const,
                    why: "the app's wheel",
                    from: "app-builder",
                    sources: ["/dist"],
                    dest: "/app-dist",
                  },
                  {
                    kind: "run" as const,
                    why: "install the app's wheel",
                    commands: ["pip install --no-cache-dir --no-index --no-deps /app-dist/*.whl"],
                  },
                ]
              : []),
            steps.copyApp(),
            ...steps.appStageClosing(p, "wheels", o),
          ],
        },
      ],
      {
        runtimePackages: needs.runtime,
        buildPackages: needs.build,
        artifacts: ARTIFACTS,
      },
    );
  },
};
