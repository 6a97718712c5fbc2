/**
 * The test bed's base images (`slimwheel-testbed/python:3.11[-slim]`): root filesystems built by
 * mmdebstrap from Debian's archive, imported with buildah and pushed to the test-bed registry.
 * Each is tagged with a key over its inputs; an image whose keyed tag is already in the registry
 * is not built again.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { SlimwheelError } from "../src/errors.js";
import { type Reporter, step } from "../src/reporter/index.js";
import { type Env, exec } from "../src/util/exec.js";
import { type DebianMirror, findDebianMirror, parseDeb822, parseOneLine } from "./apt-sources.js";
import type { ImageEndpoint } from "./endpoints.js";
import { dpkgArch } from "./host.js";
import { type ImageSpec, mmdebstrapArgs } from "./images.js";
import type { Layout } from "./paths.js";
import { RECIPE_VERSION, SUITE, sha256 } from "./recipe.js";
import { manifestDigest } from "./registry.js";

/** The Debian mirror to build from: `mirror`, else this machine's apt sources. */
export async function debianMirror(mirror: string | undefined): Promise<DebianMirror> {
  if (mirror) return { archive: mirror };
  const sources = [];
  const dir = "/etc/apt/sources.list.d";
  for (const f of (await readdir(dir).catch(() => [])).sort()) {
    const text = await readFile(join(dir, f), "utf8").catch(() => "");
    if (f.endsWith(".sources")) sources.push(...parseDeb822(text));
    else if (f.endsWith(".list")) sources.push(...parseOneLine(text));
  }
  sources.push(...parseOneLine(await readFile("/etc/apt/sources.list", "utf8").catch(() => "")));
  const m = findDebianMirror(sources, SUITE);
  if (!m) {
    throw new SlimwheelError("not-found", `no apt source for Debian ${SUITE} (main) in /etc/apt/sources*`, {
      hint: "pass --mirror URI (or set SLIMWHEEL_DEBIAN_MIRROR) to name a Debian mirror",
    });
  }
  return m;
}

/** The cache key of an image: a hash of everything it is made from. Changing it rebuilds the image. */
export function imageKey(spec: ImageSpec, mirror: DebianMirror, arch: string): string {
  return sha256(JSON.stringify({ spec, suite: SUITE, mirror, arch, RECIPE_VERSION })).slice(0, 16);
}

export async function ensureImage(
  l: Layout,
  spec: ImageSpec,
  registryHost: string,
  mirror: DebianMirror,
  reporter: Reporter,
  env: Env,
): Promise<ImageEndpoint> {
  const arch = await dpkgArch(env);
  const key = imageKey(spec, mirror, arch);
  const keyedTag = `${spec.tag}-tb${key}`;
  const ref = `${registryHost}/${spec.repository}:${spec.tag}`;
  const pin = (digest: string) => ({ ref, digest, pinned: `${registryHost}/${spec.repository}@${digest}` });

  const existing = await manifestDigest(registryHost, spec.repository, keyedTag);
  if (existing && (await manifestDigest(registryHost, spec.repository, spec.tag)) === existing) {
    return pin(existing);
  }

  const tarball = join(l.rootfs, `${spec.name}-${key}.tar`);
  if (!existsSync(tarball)) {
    await step(
      reporter,
      `mmdebstrap-${spec.name}`,
      `building the ${spec.name} root filesystem (mmdebstrap)`,
      async () => {
        const tmp = `${tarball}.tmp-${process.pid}.tar`;
        try {
          await exec("mmdebstrap", mmdebstrapArgs(spec, SUITE, mirror, tmp), {
            env,
            doing: `building the ${spec.name} image's root filesystem with mmdebstrap`,
            hint: "mmdebstrap needs root and Debian's archive",
          });
          await rename(tmp, tarball);
        } finally {
          await rm(tmp, { force: true });
        }
      },
    );
  }

  return step(reporter, `import-${spec.name}`, `importing and pushing ${ref}`, async () => {
    const local = `localhost/${spec.repository}:${keyedTag}`;
    const ctr = (
      await exec("buildah", ["from", "--name", `tb-${spec.name}-${key}-${process.pid}`, "scratch"], { env })
    ).stdout.trim();
    try {
      const mnt = (await exec("buildah", ["mount", ctr], { env })).stdout.trim();
      await exec("tar", ["--numeric-owner", "-xpf", tarball, "-C", mnt], {
        env,
        doing: `unpacking ${tarball}`,
      });
      await exec("buildah", ["umount", ctr], { env });
      await exec(
        "buildah",
        [
          "config",
          "--os",
          "linux",
          "--arch",
          arch,
          "--env",
          "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          "--env",
          "LANG=C.UTF-8",
          "--cmd",
          '["python3"]',
          "--label",
          `org.opencontainers.image.title=slimwheel test bed: python:${spec.tag}`,
          "--label",
          `org.opencontainers.image.description=${spec.description}`,
          "--label",
          `io.slimwheel.testbed.key=${key}`,
          ctr,
        ],
        { env },
      );
      await exec("buildah", ["commit", "--timestamp", "0", ctr, local], {
        env,
        doing: `committing ${local}`,
      });
    } finally {
      await exec("buildah", ["rm", ctr], { env, allowFailure: true });
    }
    let digest = "";
    for (const tag of [keyedTag, spec.tag]) {
      const digestFile = join(l.run, `digest-${spec.name}`);
      await exec(
        "buildah",
        [
          "push",
          "--tls-verify=false",
          "--digestfile",
          digestFile,
          local,
          `docker://${registryHost}/${spec.repository}:${tag}`,
        ],
        { env, doing: `pushing ${spec.repository}:${tag} to the test-bed registry` },
      );
      digest = (await readFile(digestFile, "utf8")).trim();
    }
    return pin(digest);
  });
}
