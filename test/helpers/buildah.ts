/**
 * Thin helpers over the real buildah, for tests that build and run images.
 *
 * Builds run without `--layers`: buildah 1.28 (Debian 12) cannot bind-mount a previous stage
 * that came from its layer cache (`RUN --mount=type=bind,from=STAGE` finds nothing; buildah
 * issue 4375, fixed in later releases) and reuses such layers when the stage changed (4522).
 */
import { containersOfBuild } from "../../src/engines/build-owner.js";
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

/** The names of buildah's working containers. */
export async function buildahContainerNames(): Promise<string[]> {
  // Listing can fail (exit 125) while other builds remove containers at that moment: tried 3 times.
  let r = await exec("buildah", ["containers", "--format", "{{.ContainerName}}"], {
    env: process.env,
    allowFailure: true,
  });
  for (let i = 0; i < 2 && r.code !== 0; i++) {
    await new Promise((res) => setTimeout(res, 2000));
    r = await exec("buildah", ["containers", "--format", "{{.ContainerName}}"], {
      env: process.env,
      allowFailure: true,
    });
  }
  if (r.code !== 0) throw new Error(`buildah containers failed: ${r.stderr}`);
  return r.stdout.trim().split("\n").filter(Boolean);
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
 * The working containers slimwheel's CLI with process id `pid` made and left: those it names itself
 * (`buildah from --name slimwheel-PID-…`) and those its `buildah bud`s made, found by the build id
 * each bud records (src/engines/build-owner.ts). Only these can be attributed to that run in an
 * engine storage others use at once.
 */
export async function containersOfCli(pid: number): Promise<string[]> {
  const named = (await buildahContainerNames()).filter((n) => n.startsWith(`slimwheel-${pid}-`));
  const built = await containersOfBuild((id) => id.startsWith(`slimwheel-${pid}-`), process.env, true);
  return [...named, ...built];
}
