/**
 * Thin helpers over the real buildah, for tests that build and run images.
 *
 * Builds run without `--layers`: buildah 1.28 (Debian 12) cannot bind-mount a previous stage
 * that came from its layer cache (`RUN --mount=type=bind,from=STAGE` finds nothing; buildah
 * issue 4375, fixed in later releases) and reuses such layers when the stage changed (4522).
 */
import { type ExecResult, exec } from "../../src/util/exec.js";

export async function buildahBuild(options: {
  contextDir: string;
  dockerfile: string;
  tag: string;
  buildArgs?: Record<string, string>;
}): Promise<void> {
  const args = [
    "bud",
    "--isolation",
    "chroot",
    "--tls-verify=false",
    "-f",
    options.dockerfile,
    "-t",
    options.tag,
  ];
  for (const [k, v] of Object.entries(options.buildArgs ?? {})) args.push("--build-arg", `${k}=${v}`);
  args.push(options.contextDir);
  await exec("buildah", args, { env: process.env, doing: `building ${options.tag} with buildah` });
}

/** Runs `command` in a fresh working container of `image` (buildah run; podman run fails here). */
export async function runInImage(
  image: string,
  command: readonly string[],
  options: { workdir?: string; allowFailure?: boolean } = {},
): Promise<ExecResult> {
  const ctr = (
    await exec("buildah", ["from", "--tls-verify=false", image], {
      env: process.env,
      doing: `creating a container of ${image}`,
    })
  ).stdout.trim();
  try {
    const args = ["run", "--isolation", "chroot"];
    if (options.workdir) args.push("--workingdir", options.workdir);
    return await exec("buildah", [...args, ctr, "--", ...command], {
      env: process.env,
      doing: `running ${command.join(" ")} in ${image}`,
      allowFailure: options.allowFailure ?? false,
    });
  } finally {
    await exec("buildah", ["rm", ctr], { env: process.env, allowFailure: true });
  }
}

export async function pushImage(image: string, dest: string): Promise<string> {
  const { stdout } = await exec(
    "sh",
    [
      "-c",
      'f=$(mktemp) && buildah push --tls-verify=false --digestfile "$f" "$1" "docker://$2" >/dev/null && cat "$f" && rm -f "$f"',
      "sh",
      image,
      dest,
    ],
    { env: process.env },
  );
  return stdout.trim();
}

/** The IDs of buildah's working containers, sorted. */
export async function buildahContainers(): Promise<string[]> {
  return (await exec("buildah", ["containers", "--quiet"], { env: process.env })).stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .sort();
}

/**
 * Working containers made since `before` and still there: the engine storage is shared with other
 * tests and agents, so a new container must outlive `graceMs` (polled) to count as left behind.
 */
export async function containersLeft(before: readonly string[], graceMs = 20_000): Promise<string[]> {
  const old = new Set(before);
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = (await buildahContainers()).filter((id) => !old.has(id));
    if (!left.length || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The names of buildah's working containers. */
export async function buildahContainerNames(): Promise<string[]> {
  return (
    await exec("buildah", ["containers", "--format", "{{.ContainerName}}"], { env: process.env })
  ).stdout
    .trim()
    .split("\n")
    .filter(Boolean);
}

/** Mounted working containers, by mount point (`buildah mount` lists NAME MOUNTPOINT). */
export async function mountedContainers(): Promise<Map<string, string>> {
  const out = (await exec("buildah", ["mount"], { env: process.env, allowFailure: true })).stdout;
  const map = new Map<string, string>();
  for (const line of out.trim().split("\n")) {
    const [name, mnt] = line.trim().split(/\s+/);
    if (name && mnt) map.set(mnt, name);
  }
  return map;
}

/**
 * The working containers slimwheel's CLI with process id `pid` made itself (`buildah from --name
 * slimwheel-PID-…`) that are still there: the ones a test can attribute to that run in an engine
 * storage others use at once.
 */
export async function containersOfCli(pid: number): Promise<string[]> {
  return (await buildahContainerNames()).filter((n) => n.startsWith(`slimwheel-${pid}-`));
}
