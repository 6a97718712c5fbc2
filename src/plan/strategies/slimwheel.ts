import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import * as options from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan, Stage, Step } from "../types.js";
import type { Strategy } from "./strategy.js";

const runAsApp: Step = {
  kind: "user",
  why: "run as the non-root app user",
  user: `${options.APP_UID}:${options.APP_UID}`,
};

const ARTIFACTS = { stage: "deps", path: "/wheels" } as const;

/** The artifacts stage: a wheel of every dependency, built in the full builder image. */
function depsStage(deps: inputs.DependencyInput, needs: inputs.Needs): Stage {
  return {
    name: "deps",
    from: "${BUILDER_IMAGE}",
    why: "builds a wheel of every dependency, compiling where needed; only its /wheels is ever used",
    steps: steps.buildWheels(deps, needs, {
      wheelDir: "/wheels",
      why: "wheels for every dependency; pip's cache lives in a cache mount, never in a layer",
      cacheMount: true,
      copyRequirements: false,
    }),
  };
}

export const slimwheelStrategy: Strategy = {
  id: "slimwheel",
  title: "slimwheel: wheels built apart, installed through bind mounts",
  summary:
    "slimwheel's own (the default). Dependency wheels are built in the full builder image, apart from the app, so a code change rebuilds only the app layer; they are installed in the slim image through `RUN --mount=type=bind,from=…`, so no wheel is stored twice and no pip cache lands in a layer. The final image gets only the runtime system libraries the dependencies need (no compilers, no headers), runs as a non-root user, and its layers go base → system libraries → dependencies → app, with OCI labels. The package index is only ever seen by the builder.",
  assembleArtifacts: (p, o, read) =>
    inputs.artifactsPlan(slimwheelStrategy, p, o, read, depsStage, ARTIFACTS),

  assemble(p: Project, o: options.StrategyOptions, read): BuildPlan {
    const { deps, needs } = inputs.debianInputs(p, o, read);
    const stages: Stage[] = [depsStage(deps, needs)];
    if (p.installable) {
      stages.push({
        name: "app-wheel",
        from: "${BUILDER_IMAGE}",
        why: "builds the app's own wheel, apart from the dependencies",
        steps: [
          steps.indexArgStep,
          { kind: "copy", why: "the app's source", sources: ["."], dest: "/src/" },
          {
            kind: "run",
            why: `the app's wheel (${p.installable.reason}); its build requirements come from the index`,
            mounts: [{ type: "cache", target: "/root/.cache/pip", id: "slimwheel-pip" }],
            commands: ["pip wheel --no-deps --wheel-dir /app-wheels /src"],
          },
        ],
      });
    }
    const final: Step[] = [
      ...steps.runtimePackagesStep(needs.runtime),
      {
        kind: "run",
        why: `a non-root user for the app (uid ${options.APP_UID}, no login, no home; the app's files stay owned by root, read-only to it), added as one line in /etc/passwd with its own group ID, which needs no name: useradd would also rewrite group, shadow and gshadow and leave backups of all four in the layer; then the dependencies: exactly the wheels the builder built (pip resolved, verified any hashes and built them there), installed by file through a bind mount, so -r/-c includes and hash-checked requirements need nothing more here: the wheels never enter a layer, no index, no compiler; the installed packages are byte-compiled, but pip writes no __pycache__ of itself. One layer for both`,
        mounts: [{ type: "bind", from: "deps", source: "/wheels", target: "/wheels" }],
        commands: [
          `echo 'app:x:${options.APP_UID}:${options.APP_UID}::/nonexistent:/usr/sbin/nologin' >> /etc/passwd`,
          // Inline, not ENV: pip's own modules and the stdlib would otherwise leave __pycache__ in this layer.
          "PYTHONDONTWRITEBYTECODE=1 pip install --no-cache-dir --no-index --no-deps /wheels/*.whl",
        ],
      },
      { kind: "workdir", why: "the app's home", path: options.APP_DIR },
      // Settings before the code: after a code change they come from the cache, and only the
      // app's own layer is committed again.
      steps.runtimeEnv(p, true),
      ...(p.installable ? [] : [runAsApp]),
      ...steps.appStageClosing(p, "slimwheel", o),
      ...(p.installable
        ? [
            {
              kind: "run" as const,
              why: "the app's own wheel, through a bind mount",
              mounts: [
                { type: "bind" as const, from: "app-wheel", source: "/app-wheels", target: "/app-wheels" },
              ],
              commands: [
                "PYTHONDONTWRITEBYTECODE=1 pip install --no-cache-dir --no-index --no-deps /app-wheels/*.whl",
              ],
            },
          ]
        : []),
      steps.copyApp("the app's code, last: a code change rebuilds only this layer, and nothing after it"),
      // pip installs the app's wheel as root, so here the switch comes after it.
      ...(p.installable ? [runAsApp] : []),
    ];
    stages.push({
      name: "final",
      from: "${RUNTIME_IMAGE}",
      why: "the slim image: base → system libraries → dependencies → app",
      steps: final,
    });
    return inputs.makePlan(slimwheelStrategy, p, deps, stages, {
      runtimePackages: needs.runtime,
      buildPackages: needs.build,
      artifacts: ARTIFACTS,
    });
  },
};
