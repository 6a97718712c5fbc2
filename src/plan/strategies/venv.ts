import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import * as options from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan, Stage } from "../types.js";
import { CATALOG } from "./catalog.js";
import type { Strategy } from "./strategy.js";

const VENV = "/opt/venv";

const ARTIFACTS = { stage: "builder", path: "/opt/venv" } as const;

/** The artifacts stage. */
function artifactsStage(p: Project, deps: inputs.DependencyInput, needs: inputs.Needs): Stage {
  return {
    name: "builder",
    from: "${BUILDER_IMAGE}",
    why: "builds the virtualenv, compiling where needed",
    steps: [
      ...steps.installMissingBuildPackages(needs.build),
      {
        kind: "run",
        why: `the virtualenv at a fixed path, the same in the final image`,
        commands: [`python3 -m venv ${VENV}`],
      },
      {
        kind: "env",
        why: "activate the venv for every later command (not through .bashrc)",
        vars: { PATH: `${VENV}/bin:$PATH`, VIRTUAL_ENV: VENV },
      },
      ...steps.installRequirements(deps, "/build", "dependencies into the venv"),
      ...(p.installable
        ? [
            { kind: "copy" as const, why: "the app's source", sources: ["."], dest: "/src/" },
            {
              kind: "run" as const,
              why: `the project itself into the venv (${p.installable.reason}); the app's tree is copied first (the build writes into /src), and the packages the project installed are then removed from it, where they would shadow the installed ones`,
              commands: [
                `cp -a /src/. ${steps.APP_TREE}/`,
                "pip install --no-cache-dir --no-deps /src",
                steps.pruneInstalledProject(steps.APP_TREE, p.name ?? ""),
              ],
            },
          ]
        : []),
    ],
  };
}

export const venv: Strategy = {
  ...CATALOG.venv,
  assembleArtifacts: (p, o, read) =>
    inputs.artifactsPlan(venv, p, o, read, (deps, needs) => artifactsStage(p, deps, needs), ARTIFACTS),

  assemble(p: Project, o: options.StrategyOptions, read): BuildPlan {
    const { deps, needs } = inputs.debianInputs(p, o, read);
    return inputs.makePlan(
      venv,
      p,
      deps,
      [
        artifactsStage(p, deps, needs),
        steps.finalStage("${RUNTIME_IMAGE}", "the slim image with the venv", [
          steps.runtimeEnv(p),
          ...steps.runtimePackagesStep(needs.runtime),
          {
            kind: "copy",
            why: "the whole virtualenv; its interpreter link points at the same path here",
            from: "builder",
            sources: [VENV],
            dest: VENV,
          },
          {
            kind: "env",
            why: "activate the venv through PATH, for every process",
            vars: { PATH: `${VENV}/bin:$PATH`, VIRTUAL_ENV: VENV },
          },
          { kind: "workdir", why: "the app's home", path: options.APP_DIR },
          steps.copyAppCode(p, "builder"),
          ...steps.projectBuildSteps(p),
          ...steps.appStageClosing(p, "venv", o),
        ]),
      ],
      {
        runtimePackages: needs.runtime,
        buildPackages: needs.build,
        artifacts: ARTIFACTS,
      },
    );
  },
};
