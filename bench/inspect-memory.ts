/**
 * Peak memory and time of `slimwheel inspect` on a ~1 GB image: generates an OCI layout in a temp
 * directory (a few layers of incompressible files, some overwritten or deleted by later layers),
 * then inspects it in a fresh process and prints that process's peak RSS and the time taken.
 * A last layer holds many small files (`--small-files`, default 100000 of 1 KB, in 1000
 * directories), so that the per-file bookkeeping is measured too.
 * With `--docker-archive` the same image is also written as a docker archive and inspected.
 * Exits 1 when the peak RSS reaches 256 MB.
 *
 * Usage: npx tsx bench/inspect-memory.ts [--size-mb 1024] [--small-files 100000] [--docker-archive] [--keep]
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { inspectImage } from "../src/inspect/inspect.js";
import { openImageSource, parseImageRef } from "../src/oci/ref.js";
import { type FixtureImage, writeDockerArchive, writeOciLayout } from "../test/helpers/oci-image.js";

const LIMIT_MB = 256;
const MB = 1024 * 1024;

async function child(ref: string): Promise<void> {
  const start = performance.now();
  const report = await inspectImage(await openImageSource(parseImageRef(ref, process.cwd())));
  const ms = performance.now() - start;
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    `${JSON.stringify({
      ref,
      ms: Math.round(ms),
      maxRssMB: Math.round(maxRssMB),
      uncompressedMB: Math.round(report.totals.uncompressedBytes / MB),
      compressedMB: Math.round(report.totals.compressedBytes / MB),
      wastedMB: Math.round(report.waste.bytes / MB),
      layers: report.layers.length,
      files: report.layers.reduce((n, l) => n + l.added + l.changed, 0),
    })}\n`,
  );
}

function image(totalMB: number, smallFiles: number): FixtureImage {
  // 4 layers; files of 8 MB; layer 2 overwrites some of layer 1, layer 3 deletes a directory of layer 0.
  const filesPerLayer = Math.max(2, Math.round(totalMB / 24)); // 8 MB files: 1 + 1 + ½ + ½ layers
  const files = (dir: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({ path: `${dir}/f${i}.bin`, size: 8 * MB }));
  return {
    user: "app",
    layers: [
      {
        createdBy: "ADD base.tar /",
        entries: [...files("usr/lib/base", filesPerLayer), { path: "bin/sh", size: 100_000 }],
      },
      { createdBy: "RUN build", entries: files("opt/build", filesPerLayer) },
      { createdBy: "RUN rebuild", entries: files("opt/build", Math.ceil(filesPerLayer / 2)) },
      {
        createdBy: "RUN cleanup && install",
        entries: [
          { path: "usr/lib/base", type: "whiteout" },
          ...files("app/data", Math.floor(filesPerLayer / 2)),
        ],
      },
      {
        createdBy: "RUN pip install many-small-files",
        entries: Array.from({ length: smallFiles }, (_, k) => ({
          path: `usr/local/lib/python3.12/site-packages/pkg${k % 1000}/module_${k}.py`,
          size: 1024,
        })),
      },
    ],
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--child") return child(args[1]!);
  const sizeArg = args.indexOf("--size-mb");
  const totalMB = sizeArg >= 0 ? Number(args[sizeArg + 1]) : 1024;
  const smallArg = args.indexOf("--small-files");
  const smallFiles = smallArg >= 0 ? Number(args[smallArg + 1]) : 100_000;
  const dir = await mkdtemp(join(tmpdir(), "sw-inspect-bench-"));
  try {
    const img = image(totalMB, smallFiles);
    let t = performance.now();
    await writeOciLayout(join(dir, "oci"), img);
    process.stderr.write(`wrote a ${totalMB} MB image in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
    const refs = [`oci:${join(dir, "oci")}`];
    if (args.includes("--docker-archive")) {
      t = performance.now();
      await writeDockerArchive(join(dir, "image.tar"), img);
      process.stderr.write(`wrote the docker archive in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
      refs.push(`docker-archive:${join(dir, "image.tar")}`);
    }
    let over = false;
    for (const ref of refs) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--import", "tsx", import.meta.filename, "--child", ref],
        { maxBuffer: 1 << 20 },
      );
      const r = JSON.parse(stdout) as { maxRssMB: number; ms: number };
      process.stdout.write(stdout);
      console.log(
        `${ref.split(":")[0]}: peak RSS ${r.maxRssMB} MB (limit ${LIMIT_MB} MB), ${(r.ms / 1000).toFixed(1)} s`,
      );
      if (r.maxRssMB >= LIMIT_MB) over = true;
    }
    if (over) process.exitCode = 1;
  } finally {
    if (!args.includes("--keep")) await rm(dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${dir}\n`);
  }
}

await main();
