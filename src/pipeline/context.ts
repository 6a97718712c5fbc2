/**
 * The build context slimwheel hands an engine: a temporary directory holding the project's files
 * (after the project's .dockerignore and the strategy's), the rendered Dockerfile and any
 * generated files. The user's tree is never written to.
 */
import { copyFile, lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { BuildPlan } from "../plan/types.js";
import { filterContext } from "../project/context-files.js";
import type { Project } from "../project/read.js";
import { type RenderOptions, renderDockerfile, renderDockerignore } from "../render/dockerfile/index.js";

export interface PreparedContext {
  readonly dir: string;
  readonly files: readonly string[];
  cleanup(): Promise<void>;
}

/** Copies `files` (relative to `from`) into `to`, keeping symlinks as links. */
export async function copyFiles(from: string, to: string, files: readonly string[]): Promise<void> {
  for (const f of files) {
    const src = join(from, f);
    const dst = join(to, f);
    await mkdir(dirname(dst), { recursive: true });
    const st = await lstat(src);
    if (st.isSymbolicLink()) await symlink(await readlink(src), dst);
    else await copyFile(src, dst);
  }
}

/**
 * Copies the project's files (after the project's .dockerignore and the plan's) into a temporary
 * directory, with the plan's generated files and a .dockerignore; the Dockerfiles come later,
 * each written once by `writeDockerfile`.
 */
export async function prepareContext(
  project: Project,
  plan: Pick<BuildPlan, "dockerignore" | "generated">,
  version: string,
  baseDir = tmpdir(),
): Promise<PreparedContext> {
  const dir = await mkdtemp(join(baseDir, "slimwheel-build-"));
  try {
    const files = filterContext(project.context.files, plan.dockerignore).filter((f) => !f.endsWith("/"));
    await copyFiles(project.dir, dir, files);
    for (const g of plan.generated) await writeFile(join(dir, g.path), g.content);
    await writeFile(
      join(dir, ".dockerignore"),
      `${renderDockerignore(plan, { version })}Dockerfile.slimwheel*\n`,
    );
    return { dir, files, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Renders `plan` into the context as `Dockerfile.slimwheel` (or `Dockerfile.slimwheel-SUFFIX`); returns its path. */
export async function writeDockerfile(
  context: PreparedContext,
  plan: BuildPlan,
  options: RenderOptions,
  suffix = "",
): Promise<string> {
  const path = join(context.dir, `Dockerfile.slimwheel${suffix ? `-${suffix}` : ""}`);
  await writeFile(path, renderDockerfile(plan, options));
  return path;
}
