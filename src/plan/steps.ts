/**
 * Named step builders: the steps strategies share (the app's home, the index arguments, copying
 * and installing the dependencies, system packages with apt, labels, the start command), so each
 * strategy file shows only its order of steps.
 */
import type { Project } from "../project/read.js";
import { KNOWN } from "../sysdeps/known-packages.js";
import { type DependencyInput, type Needs, requirementsCd } from "./inputs.js";
import { APP_DIR, INDEX_ARGS, type StrategyOptions } from "./options.js";

export { APP_DIR };

import type { Stage, Step } from "./types.js";

export const indexArgStep: Step = {
  kind: "arg",
  why: "a private package index, passed with --build-arg at build time: pip reads these from the environment; never set with ENV, so nothing is written into a layer",
  names: [...INDEX_ARGS],
};

/** The index arguments, with the credential variables the dependency file's index URLs name. */
export const indexArgsFor = (deps: DependencyInput): Step =>
  deps.credentialArgs?.length
    ? {
        kind: "arg",
        why: `${indexArgStep.why}; the index credentials too (${deps.credentialArgs.join(", ")}), which pip expands in ${deps.main}`,
        names: [...INDEX_ARGS, ...deps.credentialArgs],
      }
    : indexArgStep;

/** COPY of the dependency files into `dir`, keeping their relative paths (for -r/-c includes). */
export function copyDependencyFiles(input: DependencyInput, dir: string): Step[] {
  const byDir = new Map<string, string[]>();
  const dirs = input.files.filter((f) => f.endsWith("/"));
  for (const f of input.files.filter((x) => !x.endsWith("/"))) {
    const parent = f.includes("/") ? f.slice(0, f.lastIndexOf("/")) : "";
    byDir.set(parent, [...(byDir.get(parent) ?? []), f]);
  }
  const dirSteps: Step[] = dirs.map((d) => ({
    kind: "copy",
    why: `a local package ${input.main} names (a workspace member), at the same relative path`,
    sources: [d],
    dest: `${dir}/${d}`,
  }));
  const fileSteps: Step[] = [...byDir].map(([parent, files]) => ({
    kind: "copy" as const,
    why: parent
      ? `the files ${input.main} includes (-r/-c), at the same relative path`
      : "only the dependency list, before the app: a code change does not invalidate the dependency layer",
    sources: files,
    dest: `${dir}/${parent ? `${parent}/` : ""}`,
  }));
  return [...fileSteps, ...dirSteps];
}

/** The generic runtime environment every final stage gets; `appUser`: the image runs as a non-root user that cannot write /app. */
export function runtimeEnv(p: Project, appUser = false): Step {
  return {
    kind: "env",
    why: `logs straight to the container's output; no .pyc files written at run time${appUser ? " (the app user cannot write /app anyway)" : ""}`,
    vars: {
      PYTHONUNBUFFERED: "1",
      PYTHONDONTWRITEBYTECODE: "1",
      ...(p.start?.port ? { PORT: String(p.start.port) } : {}),
    },
  };
}

/**
 * The health check of a web server: any HTTP answer on PORT (even a 404 or a 500: the process
 * is alive and serving) is healthy; no answer within 3 s, or a refused connection, is not.
 * Python's http.client, which never raises on a status code, so no curl or wget is needed in
 * the image (slim and minimal images have neither).
 */
export const healthcheckCommand = (port: number): string[] => [
  "python3",
  "-c",
  `import http.client, os; c = http.client.HTTPConnection('127.0.0.1', int(os.environ.get('PORT', '${port}')), timeout=3); c.request('GET', '/'); c.getresponse()`,
];

export function startSteps(p: Project): Step[] {
  const steps: Step[] = [];
  if (p.start?.port)
    steps.push(
      {
        kind: "expose",
        why: "documents the port the server listens on (PORT)",
        port: p.start.port,
      },
      {
        kind: "healthcheck",
        why: "healthy while the server answers HTTP on PORT, whatever the status; with the image's own Python, no curl needed (docker keeps it; OCI-format images, e.g. buildah's and podman's default, have no health check field)",
        command: healthcheckCommand(p.start.port),
      },
    );
  if (p.start)
    steps.push({
      kind: "cmd",
      why: `start command: ${p.start.reason}`,
      command: p.start.command,
      shell: p.start.shell,
    });
  return steps;
}

export function labels(p: Project, strategy: string, options: StrategyOptions): Step {
  const l: Record<string, string> = {
    "org.opencontainers.image.title": p.name ?? "app",
    "io.slimwheel.strategy": strategy,
    "io.slimwheel.python": p.python.version,
  };
  if (p.version) l["org.opencontainers.image.version"] = p.version;
  if (options.sourceDateEpoch !== undefined)
    l["org.opencontainers.image.created"] = new Date(options.sourceDateEpoch * 1000).toISOString();
  return { kind: "label", why: "OCI annotations: what this image is and how it was built", labels: l };
}

export const copyApp = (why = "the app's code, last: a code change rebuilds only this layer"): Step => ({
  kind: "copy",
  why,
  sources: ["."],
  dest: `${APP_DIR}/`,
});

/** Where the app-wheel stages keep the app's tree, without the packages the project's wheel installs. */
export const APP_TREE = "/app-tree";

/**
 * The app's code into the app's home: for a project that is a package, the tree its wheel's stage
 * kept (`from`), without the packages the wheel installed, which would shadow the installed ones;
 * otherwise the whole context.
 */
export const copyAppCode = (
  p: Project,
  from: string,
  why = "the app's code, last: a code change rebuilds only this layer",
): Step =>
  p.installable
    ? {
        kind: "copy",
        why: why.replace(
          "the app's code",
          "the app's code without the packages its wheel installed (they would shadow the installed ones)",
        ),
        from,
        sources: [`${APP_TREE}/`],
        dest: `${APP_DIR}/`,
      }
    : copyApp(why);

/** apt-get install in one layer; package lists and apt's caches removed in the same layer (a later RUN could not shrink it). */
export function aptInstall(packages: readonly string[]): string[] {
  return [
    "apt-get update",
    `apt-get install -y --no-install-recommends ${packages.join(" ")}`,
    "apt-get clean",
    // Package lists, and what apt and dpkg leave behind besides the packages: logs and the backups
    // of their state files. Deleted in the layer that wrote them, they never reach the image.
    "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log /var/lib/dpkg/*-old /var/cache/debconf/*-old",
  ];
}

/**
 * Python headers for compiling: official images carry them; Debian's python3 needs python3-dev.
 * A shell snippet that prints "python3-dev" only when Python.h is missing.
 */
export const PYTHON_DEV_IF_MISSING =
  '$(python3 -c \'import os, sysconfig; print("" if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else "python3-dev")\')';

/**
 * Before purging build packages in the image that runs the app: marks as manually installed every
 * Debian package that ships a library the installed extension modules link (through
 * alternatives too, e.g. libblas.so.3), so `apt-get purge --auto-remove` keeps it. The official
 * Python images keep their own runtime libraries the same way.
 */
export const KEEP_LINKED_PACKAGES =
  "find /usr/local/lib -name '*.so*' -type f -exec ldd '{}' ';' 2>/dev/null" +
  " | awk '$2 == \"=>\" && $3 ~ /^\\// && $3 !~ /^\\/usr\\/local\\// { print $3 }' | sort -u" +
  " | xargs -r realpath -e | sed 's|^/usr/||; s|^/||; s|^|*/|' | sort -u" +
  " | xargs -r dpkg-query --search 2>/dev/null | cut -d: -f1 | sort -u | xargs -r apt-mark manual";

/**
 * The purge at the end of slim-apt and single-layer: the build packages go (and python3-dev, which
 * PYTHON_DEV_IF_MISSING may have installed; apt-get skips it when it is not installed), the linked
 * libraries stay. Packages kept only because an installed package recommends or suggests them go
 * too: Debian's python3-pip recommends build-essential and apt suggests dpkg-dev, either of which
 * would otherwise keep gcc.
 */
export const purgeBuildPackages = (build: readonly string[]): string[] => [
  KEEP_LINKED_PACKAGES,
  `apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false ${[...build, "python3-dev"].join(" ")}`,
  "rm -rf /var/lib/apt/lists/*",
];

/** The generic Debian toolchain (what slim-apt and single-layer install). */
export const KNOWN_TOOLCHAIN: readonly string[] = KNOWN.toolchain.debian;

/** In a builder: apt-get install only the build packages the image lacks (often none on the full image). */
export function installMissingBuildPackages(packages: readonly string[]): Step[] {
  if (packages.length === 0) return [];
  return [
    {
      kind: "run",
      why: `build packages the full image may lack (${packages.join(", ")}): installed only when missing, in the builder, which never ships`,
      commands: [
        `missing=$(for p in ${packages.join(" ")}; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)`,
        'if [ -n "$missing" ]; then apt-get update && apt-get install -y --no-install-recommends $missing && rm -rf /var/lib/apt/lists/*; fi',
      ],
    },
  ];
}

export function runtimePackagesStep(runtime: Needs["runtime"]): Step[] {
  if (runtime.length === 0) return [];
  return [
    {
      kind: "run",
      why: `runtime libraries only, no compilers or headers: ${runtime.map((r) => `${r.name} (${r.why})`).join("; ")}. Package lists, apt's logs and the backups of its state files removed in the same layer`,
      commands: aptInstall(runtime.map((r) => r.name)),
    },
  ];
}

/** The end of the prune one-liners: the directories in `tree` named by the set `tops`, removed (never through a link). */
const removeTopLevelDirs = (tree: string): string =>
  `dirs = [os.path.join('${tree}', t) for t in sorted(tops) if not t.endswith(('.dist-info', '.data'))]; ` +
  `[shutil.rmtree(d) for d in dirs if os.path.isdir(d) and not os.path.islink(d)]"`;

/**
 * A Python one-liner that deletes from `tree` every top-level package directory the wheels in
 * `wheelGlob` install: the installed package (with its compiled extensions) must be the one
 * imported, and a copy of its source first on sys.path (the app's directory) would shadow it.
 */
export function pruneInstalledPackages(tree: string, wheelGlob: string): string {
  return (
    `python -c "import glob, os, shutil, zipfile; ` +
    `tops = {n.split('/')[0] for w in glob.glob('${wheelGlob}') for n in zipfile.ZipFile(w).namelist() if '/' in n}; ` +
    removeTopLevelDirs(tree)
  );
}

/**
 * The same as {@link pruneInstalledPackages}, for a project installed by pip (its distribution's
 * RECORD, found by normalized name); nothing is removed when the distribution is not found.
 */
export function pruneInstalledProject(tree: string, distribution: string): string {
  const norm = distribution
    .toLowerCase()
    .replace(/[-_.]+/g, "-")
    .replace(/[^a-z0-9-]/g, "");
  return (
    `python -c "import importlib.metadata as m, os, re, shutil; ` +
    `files = [f for d in m.distributions() if re.sub(r'[-_.]+', '-', d.metadata['Name'] or '').lower() == '${norm}' for f in d.files or []]; ` +
    `tops = {f.parts[0] for f in files if len(f.parts) > 1 and f.parts[0] != '..'}; ` +
    removeTopLevelDirs(tree)
  );
}

/**
 * The app-wheel stage's steps: the source copied in, a copy of it kept as the app's tree, the
 * project's wheel built, then the packages that wheel installs removed from the tree (they would
 * shadow the installed ones, whose C extensions exist only there).
 */
export function appWheelSteps(p: Project, wheelDir: string, treeDir: string, cacheMount: boolean): Step[] {
  return [
    indexArgStep,
    { kind: "copy", why: "the app's source", sources: ["."], dest: "/src/" },
    {
      kind: "run",
      why: `the app's wheel (${p.installable?.reason ?? "the project is a package"}); its build requirements come from the index. The app's tree is copied first (the build writes build/ and *.egg-info into /src), and the packages the wheel installs are then removed from it: the tree is the app's directory, first on sys.path, and a package's source there would shadow the installed package and its compiled extensions`,
      mounts: cacheMount ? [{ type: "cache", target: "/root/.cache/pip", id: "slimwheel-pip" }] : undefined,
      commands: [
        `cp -a /src/. ${treeDir}/`,
        `pip wheel ${cacheMount ? "" : "--no-cache-dir "}--no-deps --wheel-dir ${wheelDir} /src`,
        pruneInstalledPackages(treeDir, `${wheelDir}/*.whl`),
      ],
    },
  ];
}

/** `pip install --no-deps .` of the project itself, when it is a package (single-stage strategies). */
export function installProject(p: Project, note = ""): Step[] {
  return p.installable
    ? [
        {
          kind: "run",
          why: `install the project itself (${p.installable.reason})${note}; then the packages it installed are removed from the app's directory, where their source would shadow the installed packages and their compiled extensions`,
          commands: ["pip install --no-cache-dir --no-deps .", pruneInstalledProject(APP_DIR, p.name ?? "")],
        },
      ]
    : [];
}

/** The project's own build steps (Django's collectstatic when STATIC_ROOT is set), after its code is in place. */
export const projectBuildSteps = (p: Project): Step[] =>
  p.buildSteps.map((b) => ({ kind: "run", why: `${b.name}: ${b.why}`, commands: [b.command] }));

/** WORKDIR /app. */
export const appHome: Step = { kind: "workdir", why: "the app's home", path: APP_DIR };

/**
 * The dependency files copied into `dir` and installed from there with pip, in their own layer
 * (after the index arguments, which pip reads from the environment).
 */
export function installRequirements(
  deps: DependencyInput,
  dir: string,
  why: string,
  pipFlags = "--no-cache-dir",
): Step[] {
  const path = dir === APP_DIR ? deps.main : `${dir}/${deps.main}`;
  return [
    indexArgsFor(deps),
    ...copyDependencyFiles(deps, dir),
    { kind: "run", why, commands: [`${requirementsCd(deps, dir)}pip install ${pipFlags} -r ${path}`] },
  ];
}

/**
 * A builder's steps that turn the dependency set into wheels in `wheelDir` (with the requirements
 * file beside them, for an install by requirement, unless asked not to): build packages it may lack, the index arguments, the
 * dependency files, `pip wheel`. pip's cache goes to a cache mount, or nowhere.
 */
export function buildWheels(
  deps: DependencyInput,
  needs: Needs,
  o: {
    readonly wheelDir: string;
    readonly why: string;
    readonly cacheMount: boolean;
  },
): Step[] {
  return [
    ...installMissingBuildPackages(needs.build),
    indexArgsFor(deps),
    ...copyDependencyFiles(deps, "/build"),
    {
      kind: "run",
      why: o.why,
      mounts: o.cacheMount ? [{ type: "cache", target: "/root/.cache/pip", id: "slimwheel-pip" }] : undefined,
      commands: [
        `${requirementsCd(deps, "/build")}pip wheel ${o.cacheMount ? "" : "--no-cache-dir "}--wheel-dir ${o.wheelDir} -r /build/${deps.main}`,
      ],
    },
  ];
}

/** apt-get install of the build tools and headers, and of the runtime libraries (so a later purge keeps them). */
export function installBuildTools(build: readonly string[], runtime: readonly string[]): string[] {
  return [
    "apt-get update",
    `apt-get install -y --no-install-recommends ${[...build, ...runtime].join(" ")} ${PYTHON_DEV_IF_MISSING}`,
  ];
}

/** The opening of every Debian final stage: the runtime environment, then the app's home. */
export const appStageOpening = (p: Project, appUser = false): Step[] => [runtimeEnv(p, appUser), appHome];

/** The closing of a final stage: OCI labels, then the port and the start command. */
export const appStageClosing = (p: Project, strategy: string, o: StrategyOptions): Step[] => [
  labels(p, strategy, o),
  ...startSteps(p),
];

/** The stage that ships, from `from` (an image argument or an earlier stage). */
export const finalStage = (from: string, why: string, stageSteps: readonly Step[]): Stage => ({
  name: "final",
  from,
  why,
  steps: stageSteps,
});

/** A builder stage on the full image (compilers, headers); it never ships. */
export const builderStage = (name: string, why: string, stageSteps: readonly Step[]): Stage => ({
  name,
  from: "${BUILDER_IMAGE}",
  why,
  steps: stageSteps,
});

/**
 * A builder stage that turns the dependency set into wheels, and where they end up (the plan's
 * `artifacts`). The defaults are the classic recipe's (the `wheels` strategy): /build/dist,
 * `--no-cache-dir`, the requirements file copied beside the wheels.
 */
export function wheelsArtifacts(
  stage: string,
  o: {
    readonly wheelDir?: string;
    readonly stageWhy?: string;
    readonly runWhy?: string;
    readonly cacheMount?: boolean;
  } = {},
) {
  const wheelDir = o.wheelDir ?? "/build/dist";
  return {
    artifacts: { stage, path: wheelDir },
    stage: (deps: DependencyInput, needs: Needs): Stage =>
      builderStage(
        stage,
        o.stageWhy ?? "builds a wheel of every dependency, compiling where needed",
        buildWheels(deps, needs, {
          wheelDir,
          why:
            o.runWhy ??
            "a wheel for every dependency (resolved and downloaded here, never in the final image)",
          cacheMount: o.cacheMount ?? false,
        }),
      ),
  };
}
