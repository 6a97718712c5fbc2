/**
 * A root filesystem of another architecture, for tests of multi-platform images on a machine
 * that cannot run that architecture's programs: `mmdebstrap --variant=extract` only downloads and
 * unpacks Debian's packages of that architecture (no maintainer script runs, so no emulation is
 * needed; `minbase` would configure them and need qemu). Cached under the test bed's rootfs
 * directory, keyed by its inputs, so a second run takes no time.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { exec } from "../../src/util/exec.js";
import type { Endpoints } from "../../testbed/endpoints.js";
import { layout, testbedDir } from "../../testbed/paths.js";
import { RECIPE_VERSION, sha256 } from "../../testbed/recipe.js";

/** Debian's name of each GOARCH this helper builds. */
const DEBIAN_ARCH: Readonly<Record<string, string>> = { arm64: "arm64", amd64: "amd64", "386": "i386" };

/** The tarball of Debian's Essential packages (and `include`) of `arch`, unpacked; built once per machine. */
export async function foreignRootfs(
  tb: Endpoints,
  arch: string,
  include: readonly string[] = [],
): Promise<string> {
  const debArch = DEBIAN_ARCH[arch];
  if (!debArch) throw new Error(`no Debian architecture for ${arch}`);
  const spec = { suite: tb.debian.suite, mirror: tb.debian.mirror, arch: debArch, include, RECIPE_VERSION };
  const key = sha256(JSON.stringify({ variant: "extract", ...spec })).slice(0, 16);
  const dir = layout(testbedDir()).rootfs;
  const tarball = join(dir, `extract-${debArch}-${key}.tar`);
  if (existsSync(tarball)) return tarball;
  await mkdir(dir, { recursive: true });
  const tmp = `${tarball}.tmp-${process.pid}.tar`;
  try {
    await exec(
      "mmdebstrap",
      [
        `--arch=${debArch}`,
        "--variant=extract",
        ...(include.length ? [`--include=${include.join(",")}`] : []),
        '--aptopt=Acquire::Languages "none"',
        tb.debian.suite,
        tmp,
        `deb ${tb.debian.mirror} ${tb.debian.suite} main`,
      ],
      {
        env: process.env,
        doing: `unpacking Debian's ${debArch} packages with mmdebstrap --variant=extract`,
        hint: "mmdebstrap needs root and Debian's archive",
      },
    );
    await rename(tmp, tarball);
  } finally {
    await rm(tmp, { force: true });
  }
  return tarball;
}
