import { SlimwheelError } from "../../errors.js";
import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import * as options from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan } from "../types.js";
import { CATALOG } from "./catalog.js";
import type { Strategy } from "./strategy.js";

/**
 * The libc check for a musl plan: the alpine strategy builds musl wheels, so images passed in its
 * place must both be Alpine, or wheels built for glibc would go into a musl image (or the reverse).
 */
export function checkAlpineImages(images: {
  readonly builderImage?: string;
  readonly runtimeImage?: string;
}): void {
  const given = [images.builderImage, images.runtimeImage].filter((i): i is string => i !== undefined);
  if (given.some((i) => !/alpine/.test(i)))
    throw new SlimwheelError(
      "input",
      "the alpine strategy builds musl wheels: both images must be Alpine, or wheels built for glibc would go into a musl image",
      { hint: "pass Alpine images (python:X-alpine) or choose another strategy" },
    );
}

export const alpine: Strategy = {
  ...CATALOG.alpine,
  assemble(p: Project, o: options.StrategyOptions, read): BuildPlan {
    const deps = inputs.dependencyInput(p);
    const needs = inputs.systemNeeds(p, "alpine", o, inputs.appCompiles(p, read));
    const build = [...new Set(["build-base", ...needs.build])];
    return inputs.makePlan(
      alpine,
      p,
      deps,
      [
        {
          name: "builder",
          from: "${BUILDER_IMAGE}",
          why: "Alpine (musl): wheels built here are musllinux-compatible, unlike anything built on Debian",
          steps: [
            {
              kind: "run",
              why: `compilers and -dev packages (${build.join(", ")}), in the builder only`,
              commands: [`apk add --no-cache ${build.join(" ")}`],
            },
            steps.indexArgsFor(deps),
            ...steps.copyDependencyFiles(deps, "/build"),
            {
              kind: "run",
              why: "a musl wheel for every dependency",
              commands: [
                `${inputs.requirementsCd(deps, "/build")}pip wheel --no-cache-dir --wheel-dir /wheels -r /build/${deps.main}`,
              ],
            },
            ...(p.installable
              ? [...steps.appWheelSteps(p, "/app-wheels", steps.APP_TREE, false).slice(1)]
              : []),
          ],
        },
        steps.finalStage("${RUNTIME_IMAGE}", "Alpine with only the runtime libraries", [
          steps.runtimeEnv(p),
          ...(needs.runtime.length
            ? [
                {
                  kind: "run" as const,
                  why: `runtime libraries only: ${needs.runtime.map((r) => `${r.name} (${r.why})`).join("; ")}`,
                  commands: [`apk add --no-cache ${needs.runtime.map((r) => r.name).join(" ")}`],
                },
              ]
            : []),
          {
            kind: "run",
            why: "install the musl wheels from a bind mount: no copy of them stays in a layer",
            mounts: [
              { type: "bind", from: "builder", source: "/wheels", target: "/wheels" },
              ...(p.installable
                ? [{ type: "bind" as const, from: "builder", source: "/app-wheels", target: "/app-wheels" }]
                : []),
            ],
            commands: [
              "pip install --no-cache-dir --no-index --no-deps /wheels/*.whl",
              ...(p.installable ? ["pip install --no-cache-dir --no-index --no-deps /app-wheels/*.whl"] : []),
            ],
          },
          { kind: "workdir", why: "the app's home", path: options.APP_DIR },
          steps.copyAppCode(p, "builder"),
          ...steps.projectBuildSteps(p),
          ...steps.appStageClosing(p, "alpine", o),
        ]),
      ],
      { variant: "alpine", runtimePackages: needs.runtime, buildPackages: build },
    );
  },
};
