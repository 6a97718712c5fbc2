/**
 * Reproducibility of the four examples (issue 11): for each, two cold builds — two clones of the
 * same commit, each with an empty slimwheel cache, SOURCE_DATE_EPOCH unset — by today's CLI with
 * its proofs, written with `--output oci:DIR`; prints both manifest digests and, when they differ,
 * what differs (layer index, history entry, digests, first differing tar entry; config fields).
 * Prints figures; asserts nothing (the exit code is 1 when some example was not reproducible).
 * test/reproducible.int.test.ts checks two examples in CI.
 *
 * Usage: npm run build && npx tsx bench/reproducible.ts [EXAMPLE...]   (default: all four)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliBuild, cloneExample, removeImages } from "../test/helpers/cold-build.js";
import { diffLayouts, readLayoutImage } from "../test/helpers/layout-diff.js";
import { readEndpoints } from "../testbed/endpoints.js";

const EXAMPLES = ["flask-app", "c-extension", "django-postgres", "data-tools"];
/** Every example's smoke test (examples/<name>/smoke.py). */
const SMOKE = "python smoke.py";

const tb = await readEndpoints();
const examples = process.argv.slice(2).length ? process.argv.slice(2) : EXAMPLES;
const work = await mkdtemp(join(tmpdir(), "slimwheel-bench-reproducible-"));
let failed = 0;
try {
  for (const example of examples) {
    const digests: string[] = [];
    const outs: string[] = [];
    const tags: string[] = [];
    try {
      for (const n of ["a", "b"]) {
        const dir = join(work, `${example}-${n}`);
        const clone = await cloneExample(example, join(dir, "clone"));
        const tag = `localhost/slimwheel-bench-reproducible/${example}:${n}`;
        tags.push(tag);
        const out = join(dir, "out");
        const b = await cliBuild(tb, clone, dir, tag, ["--output", `oci:${out}`, "--smoke", SMOKE]);
        const image = await readLayoutImage(out);
        digests.push(image.manifestDigest);
        outs.push(out);
        console.log(
          `${example} build ${n}: ${image.manifestDigest} (${image.manifest.layers.length} layers, ` +
            `created ${String(image.config.created)}, ${b.seconds.toFixed(1)} s)`,
        );
      }
      const differences = await diffLayouts(outs[0]!, outs[1]!);
      if (differences.length === 0) console.log(`${example}: reproducible`);
      else {
        failed++;
        console.log(`${example}: NOT reproducible\n  ${differences.join("\n  ")}`);
      }
    } catch (e) {
      failed++;
      console.log(`${example}: not built: ${(e as Error).message.split("\n")[0]}`);
    } finally {
      await removeImages(...tags);
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
