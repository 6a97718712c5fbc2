import type { Project } from "../../project/read.js";
import * as inputs from "../inputs.js";
import * as options from "../options.js";
import * as steps from "../steps.js";
import type { BuildPlan, Stage, Step } from "../types.js";
import { CATALOG } from "./catalog.js";
import type { Strategy } from "./strategy.js";

const runAsApp: Step = {
  kind: "user",
  why: "run as the non-root app user",
  user: `${options.APP_UID}:${options.APP_UID}`,
};

/** The artifacts stage: a wheel of every dependency, built in the full builder image. */
const WHEELS = steps.wheelsArtifacts("deps", {
  wheelDir: "/wheels",
  stageWhy: "builds a wheel of every dependency, compiling where needed; only its /wheels is ever used",
  runWhy: "wheels for every dependency; pip's cache lives in a cache mount, never in a layer",
  cacheMount: true,
});

export const slimwheelStrategy: Strategy = {
  ...CATALOG.slimwheel,
  assembleArtifacts: (p, o, read) =>
    inputs.artifactsPlan(slimwheelStrategy, p, o, read, WHEELS.stage, WHEELS.artifacts),

  assemble(p: Project, o: options.StrategyOptions, read): BuildPlan {
    const { deps, needs } = inputs.debianInputs(p, o, read);
    const stages: Stage[] = [WHEELS.stage(deps, needs)];
    if (p.installable) {
      stages.push({
        name: "app-wheel",
        from: "${BUILDER_IMAGE}",
        why: "builds the app's own wheel, apart from the dependencies",
        steps: steps.appWheelSteps(p, "/app-wheels", steps.APP_TREE, true),
      });
    }
    const userLast = p.installable !== undefined || p.buildSteps.length > 0;
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
      ...(userLast ? [] : [runAsApp]),
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
      steps.copyAppCode(
        p,
        "app-wheel",
        "the app's code, last: a code change rebuilds only this layer, and nothing after it",
      ),
      ...steps.projectBuildSteps(p),
      // pip installs the app's wheel, and build steps write into /app, as root: then the switch comes after them.
      ...(userLast ? [runAsApp] : []),
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
      artifacts: WHEELS.artifacts,
    });
  },
};
