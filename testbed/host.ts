/** The host's side of the test bed: Debian packages (apt) and the tools the test bed drives. */

import { SlimwheelError } from "../src/errors.js";
import type { Reporter } from "../src/reporter/index.js";
import { step } from "../src/reporter/index.js";
import { type Env, exec, hasProgram } from "../src/util/exec.js";
import { firstLine, splitLines } from "../src/util/lines.js";

let aptUpdated = false;
export async function aptUpdateOnce(reporter: Reporter, env: Env): Promise<void> {
  if (aptUpdated) return;
  await step(reporter, "apt-update", "apt-get update", () =>
    exec("apt-get", ["update"], { env, doing: "updating apt's package lists", hint: "check the network" }),
  );
  aptUpdated = true;
}

async function aptInstall(
  reporter: Reporter,
  env: Env,
  packages: readonly string[],
  noRecommends = false,
): Promise<void> {
  if (packages.length === 0) return;
  await aptUpdateOnce(reporter, env);
  await step(reporter, "apt-install", `apt-get install ${packages.join(" ")}`, () =>
    exec("apt-get", ["install", "-y", ...(noRecommends ? ["--no-install-recommends"] : []), ...packages], {
      doing: `installing ${packages.join(", ")}`,
      env: { ...env, DEBIAN_FRONTEND: "noninteractive" },
      hint: "the test bed needs root and apt access to Debian's archive",
    }),
  );
}

/** Installs, with apt-get, whatever of the test bed's tools is missing. */
export async function ensureTools(reporter: Reporter, env: Env, docker: boolean): Promise<void> {
  const wanted: [string, string][] = [
    ["buildah", "buildah"],
    ["podman", "podman"],
    ["mmdebstrap", "mmdebstrap"],
    ["docker-registry", "docker-registry"],
    ["dpkg-deb", "dpkg"],
    ["python3", "python3"],
    ["tar", "tar"],
    // the docker engine's OCI exports (--output oci:DIR) are converted from `docker save` by skopeo
    ["skopeo", "skopeo"],
    // the HTML report of `slimwheel compare` is checked by a screenshot in a real headless browser
    ["chromium", "chromium"],
    // the README's commands, run by test/readme.int.test.ts, fetch the app's page with curl
    ["curl", "curl"],
  ];
  const missing: string[] = [];
  for (const [program, pkg] of wanted) if (!(await hasProgram(program, env))) missing.push(pkg);
  await aptInstall(reporter, env, missing);
  if (docker) {
    // Debian's docker-compose (1.29, Python) drives the engine in test/compose.int.test.ts
    const dockerMissing: string[] = [];
    if (!(await hasProgram("dockerd", env))) dockerMissing.push("docker.io");
    if (!(await hasProgram("docker-compose", env))) dockerMissing.push("docker-compose");
    await aptInstall(reporter, env, dockerMissing, true);
  }
}

export async function dpkgArch(env: Env): Promise<string> {
  return (await exec("dpkg", ["--print-architecture"], { env })).stdout.trim();
}

/** The first line of `program --version`, or "not installed". */
export async function programVersion(program: string, env: Env): Promise<string> {
  const r = await exec(program, ["--version"], { env, allowFailure: true }).catch(() => undefined);
  return r ? firstLine(r.stdout) : "not installed";
}

/** Package → candidate version, from `apt-cache policy` output. */
export function parseAptPolicy(out: string): Map<string, string> {
  const map = new Map<string, string>();
  let current = "";
  for (const line of splitLines(out)) {
    const pkg = /^(\S+):$/.exec(line);
    if (pkg) current = pkg[1]!;
    const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (cand && cand[1] !== "(none)") map.set(current, cand[1]!);
  }
  return map;
}

/** Candidate versions of Debian packages, from apt's lists (updated once if a package is unknown). */
export async function candidates(
  reporter: Reporter,
  env: Env,
  packages: readonly string[],
): Promise<Map<string, string>> {
  const read = async () => parseAptPolicy((await exec("apt-cache", ["policy", ...packages], { env })).stdout);
  let map = await read();
  if (packages.some((p) => !map.has(p))) {
    await aptUpdateOnce(reporter, env);
    map = await read();
  }
  const missing = packages.filter((p) => !map.has(p));
  if (missing.length) {
    throw new SlimwheelError("not-found", `Debian packages not found in apt's lists: ${missing.join(", ")}`, {
      hint: "check the apt sources (Debian bookworm main)",
    });
  }
  return map;
}
