/**
 * Every file a committed Dockerfile needs, as `slimwheel dockerfile` writes them, and the state of
 * the committed ones against the current inputs (`--check`, and `build`'s question "is the
 * committed Dockerfile current?": `committedDockerfileState`).
 *
 * The committed Dockerfile is the source of truth: it is written together with the files it
 * COPYs (the generated requirements) and the .dockerignore that keeps secrets out of its context,
 * each with a header naming slimwheel and the hash of the inputs it was written from.
 */
import { readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { packageVersion } from "../cli/version.js";
import { SlimwheelError } from "../errors.js";
import { assemblePlan } from "../pipeline/assemble.js";
import { type RuntimeKind, resolveRuntime } from "../pipeline/minimize.js";
import { DEFAULT_STRATEGY } from "../plan/strategies/index.js";
import type { BuildPlan } from "../plan/types.js";
import { type Project, readProject } from "../project/read.js";
import { renderDockerfile, renderDockerignore } from "../render/dockerfile/index.js";
import { writeAtomic } from "../util/write-atomic.js";
import { type CommittedState, compareFile } from "./compare-file.js";

export type { CommittedFile, CommittedState, FileStatus } from "./compare-file.js";

import { type ComposeMode, type ComposeNetwork, committedComposeFiles } from "./compose.js";
import { computeInputs, type Inputs, isGenerated, stamp } from "./header.js";

export interface DockerfileOptions {
  readonly strategy?: string;
  /** `--runtime`: said in the Dockerfile's header (default: resolveRuntime's). */
  readonly runtime?: RuntimeKind;
  readonly python?: string;
  readonly groups?: readonly string[];
  readonly extras?: readonly string[];
  readonly sourceDateEpoch?: number;
  /** Where the Dockerfile goes: absolute, or relative to the project directory. Default `Dockerfile`. */
  readonly output?: string;
  /** slimwheel's version for the headers (default: this package's). */
  readonly version?: string;
  /** How the project directory is named in the fix command printed (default "."). */
  readonly dirLabel?: string;
  /** `--check --compose`: compose.yaml is expected (a missing one is stale). */
  readonly compose?: ComposeMode;
  /** `--compose-network`: the network a missing compose.yaml's fix names. */
  readonly composeNetwork?: ComposeNetwork;
}

export type FileRole = "dockerfile" | "dockerignore" | "requirements" | "compose" | "env-example";

export interface PlannedFile {
  /** Absolute path. */
  readonly path: string;
  /** Relative to the project directory. */
  readonly rel: string;
  readonly role: FileRole;
  readonly content: string;
  readonly why: string;
}

export interface DockerfileFiles {
  readonly project: Project;
  readonly plan: BuildPlan;
  readonly strategy: string;
  readonly runtime: RuntimeKind;
  readonly inputs: Inputs;
  /** The Dockerfile first, then the .dockerignore, then the generated files it COPYs. */
  readonly files: readonly PlannedFile[];
  /** The command that writes them all. */
  readonly fix: string;
}

/** The command line that regenerates the files with the same options. */
export function fixCommand(o: DockerfileOptions, strategy: string, extra: readonly string[] = []): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  const words = ["slimwheel", "dockerfile", q(o.dirLabel ?? ".")];
  if (o.strategy) words.push("-s", strategy);
  if (o.output && o.output !== "Dockerfile") words.push("-o", q(o.output));
  if (o.runtime) words.push("--runtime", o.runtime);
  if (o.python) words.push("--python", q(o.python));
  for (const g of o.groups ?? []) words.push("--group", q(g));
  for (const e of o.extras ?? []) words.push("--extra", q(e));
  words.push(...extra);
  return words.join(" ");
}

/** Reads the project and renders every file its committed Dockerfile needs (nothing is written). */
export async function planDockerfileFiles(
  projectDir: string,
  o: DockerfileOptions = {},
  project?: Project,
): Promise<DockerfileFiles> {
  const p =
    project ??
    (await readProject(projectDir, {
      ...(o.python ? { python: o.python } : {}),
      ...(o.groups?.length ? { groups: o.groups } : {}),
      ...(o.extras?.length ? { extras: o.extras } : {}),
    }));
  const strategy = o.strategy ?? p.config.strategy ?? DEFAULT_STRATEGY;
  const plan = assemblePlan(
    p,
    strategy,
    o.sourceDateEpoch !== undefined ? { sourceDateEpoch: o.sourceDateEpoch } : {},
  );
  const runtime = resolveRuntime(strategy, o.runtime, p.config.runtime, plan.libc);
  if (runtime === "minimal" && strategy !== "slimwheel")
    throw new SlimwheelError("usage", `--runtime minimal is for the slimwheel strategy, not ${strategy}`, {
      hint: "the classic strategies show what people write by hand; drop --runtime or use -s slimwheel",
    });
  const version = o.version ?? packageVersion();
  const inputs = await computeInputs(p, {
    strategy,
    ...(o.runtime ? { extra: [`runtime=${o.runtime}`] } : {}),
    python: o.python,
    groups: o.groups,
    extras: o.extras,
    sourceDateEpoch: o.sourceDateEpoch,
  });
  const target = resolve(p.dir, o.output ?? "Dockerfile");
  const file = (path: string, role: FileRole, content: string, why: string): PlannedFile => ({
    path,
    rel: relative(p.dir, path) || path,
    role,
    content: stamp(content, inputs),
    why,
  });
  const files: PlannedFile[] = [
    file(
      target,
      "dockerfile",
      renderDockerfile(plan, { version, projectName: p.name, runtime }),
      `strategy ${strategy}`,
    ),
  ];
  const ignorePath = join(p.dir, ".dockerignore");
  const own = await readFile(ignorePath, "utf8").catch(() => undefined);
  if (own === undefined || isGenerated(own)) {
    files.push(
      file(
        ignorePath,
        "dockerignore",
        renderDockerignore(plan, { version }),
        "keeps caches, virtualenvs, VCS data and secrets out of the build context",
      ),
    );
  } else {
    // The project keeps its own .dockerignore; BuildKit reads DOCKERFILE.dockerignore instead of
    // it when building with this Dockerfile: slimwheel's lines (secrets, caches, requirements files
    // with credentials) first, then the project's, so its `!` exceptions still win.
    const lines = own.split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith("#"));
    const merged = [...plan.dockerignore, ...lines.filter((l) => !plan.dockerignore.includes(l))];
    files.push(
      file(
        `${target}.dockerignore`,
        "dockerignore",
        renderDockerignore({ ...plan, dockerignore: merged }, { version }),
        "the project's .dockerignore with slimwheel's lines first (BuildKit reads it for this Dockerfile)",
      ),
    );
  }
  for (const g of plan.generated) files.push(file(join(p.dir, g.path), "requirements", g.content, g.why));
  return { project: p, plan, strategy, runtime, inputs, files, fix: fixCommand(o, strategy) };
}

/** Writes the files (each through a temporary file and a rename). */
export async function writePlannedFiles(files: readonly PlannedFile[]): Promise<void> {
  for (const f of files) await writeAtomic(f.path, f.content);
}

/**
 * The state of the committed Dockerfile and of every file it needs, against the current inputs.
 * Reads the project; writes nothing.
 */
export async function committedDockerfileState(
  projectDir: string,
  options: DockerfileOptions = {},
  /** The project, when the caller has already read it with the same options. */
  project?: Project,
): Promise<CommittedState> {
  const planned = await planDockerfileFiles(projectDir, options, project);
  const [dockerfile, ...rest] = planned.files;
  const df = dockerfile!;
  const base = { dockerfile: df.path, inputsHash: planned.inputs.hash, fix: planned.fix };
  const first = await compareFile(df, "dockerfile", planned.inputs);
  if (first.status === "missing") return { ...base, state: "absent", files: [first] };
  if (first.status === "foreign") return { ...base, state: "foreign", files: [first] };
  const files = [first];
  for (const f of rest) files.push(await compareFile(f, f.role, planned.inputs));
  files.push(
    ...(await committedComposeFiles(
      planned.project,
      planned.fix,
      options.version ?? packageVersion(),
      options.compose,
      options.composeNetwork,
    )),
  );
  return { ...base, state: files.every((f) => f.status === "current") ? "current" : "stale", files };
}

/** The human report of a state: one line per file that is not current, then the fix. */
export function describeState(s: CommittedState): string {
  switch (s.state) {
    case "current":
      return `${s.dockerfile} and the ${s.files.length - 1} file(s) it needs are current (inputs ${s.inputsHash})\n`;
    case "absent":
      return `${s.dockerfile} does not exist\n  fix: ${s.fix}\n`;
    case "foreign":
      return `${s.dockerfile} was not written by slimwheel (no "# Generated by slimwheel" header): it is yours, and slimwheel does not check it\n  to let slimwheel own it: ${s.fix} --force\n`;
    case "stale": {
      const lines = s.files
        .filter((f) => f.status !== "current")
        .map((f) => `  ${f.rel}: ${f.status}: ${f.reason ?? ""}`);
      return `stale files (inputs now ${s.inputsHash}):\n${lines.join("\n")}\n  fix: ${s.fix}\n`;
    }
  }
}
