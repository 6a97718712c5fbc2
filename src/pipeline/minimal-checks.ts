/**
 * What the minimal runtime (docs/minimal-runtime.md) needs, checked before any engine work: a
 * start command and a `--smoke` command that run without a shell, the `buildah` program (the
 * assembly mounts the built and base images with it, whatever the engine), and root (`buildah
 * mount` and the chrooting `ldconfig -r`). A build that would fail there fails here instead,
 * before the full engine build.
 */
import { isSlimwheelError, SlimwheelError } from "../errors.js";
import { execForm } from "../minimize/start.js";
import type { Project } from "../project/read.js";
import { type Env, hasProgram } from "../util/exec.js";

/** The errors the start command and the smoke command would give in a shell-less image (none: both run without a shell). */
export function minimalCommandProblems(
  project: Pick<Project, "start">,
  smoke: string | undefined,
): SlimwheelError[] {
  const problems: SlimwheelError[] = [];
  const check = (run: () => unknown, source?: string) => {
    try {
      run();
    } catch (e) {
      if (!isSlimwheelError(e)) throw e;
      problems.push(
        source
          ? new SlimwheelError(e.code, `${e.message} (${source})`, { hint: e.hint, location: e.location })
          : e,
      );
    }
  };
  if (project.start) check(() => execForm(project.start!.command, "start"), project.start.reason);
  if (smoke !== undefined) check(() => execForm(smoke, "smoke"));
  return problems;
}

/** Throws the first of {@link minimalCommandProblems}. */
export function checkMinimalCommands(project: Pick<Project, "start">, smoke: string | undefined): void {
  const [first] = minimalCommandProblems(project, smoke);
  if (first) throw first;
}

/**
 * The host's side: buildah on PATH (with every engine: podman and docker hand the image to it)
 * and root. `uid`: this process's (undefined where there are no user ids).
 */
export async function checkMinimalHost(
  env: Env,
  uid: number | undefined = process.getuid?.(),
): Promise<void> {
  if (uid !== undefined && uid !== 0)
    throw new SlimwheelError(
      "usage",
      `the minimal runtime needs root (it mounts the built and base images with buildah and regenerates ld.so.cache with a chrooting ldconfig); this process runs as uid ${uid}`,
      { hint: "run slimwheel build as root (e.g. sudo), or use --runtime slim" },
    );
  if (!(await hasProgram("buildah", env)))
    throw new SlimwheelError(
      "not-found",
      "the minimal runtime needs the buildah program (it assembles the image through buildah with every engine, podman and docker included), and it is not on PATH",
      { hint: "install buildah (apt-get install buildah), or use --runtime slim" },
    );
}
