/**
 * Reproducible builds (issue 11): two cold builds of an example — two separate clones of the same
 * commit, each with an empty slimwheel cache, SOURCE_DATE_EPOCH unset (so it comes from the
 * commit) — written with `--output oci:DIR` give the same manifest digest. When they do not, the
 * message says which layer differs (its index, the history entry that made it, both digests, the
 * first differing tar entry) or which config field. Proofs are skipped (they change no byte of
 * the image; the CI time budget); bench/reproducible.ts runs all four examples with them.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readEndpoints } from "../testbed/endpoints.js";
import { CLONE_EPOCH, cliBuild, cloneExample, removeImages } from "./helpers/cold-build.js";
import { diffLayouts, readLayoutImage } from "./helpers/layout-diff.js";

const tb = await readEndpoints();
const work = await mkdtemp(join(tmpdir(), "slimwheel-reproducible-"));
const tags: string[] = [];

afterAll(async () => {
  await removeImages(...tags);
  await rm(work, { recursive: true, force: true });
});

describe("two cold builds from two clones give the same manifest digest", () => {
  for (const example of ["flask-app", "c-extension"])
    it(example, async () => {
      const builds = await Promise.all(
        ["a", "b"].map(async (n) => {
          const dir = join(work, `${example}-${n}`);
          const clone = await cloneExample(example, join(dir, "clone"));
          const tag = `localhost/slimwheel-reproducible-int/${example}:${n}`;
          tags.push(tag);
          const out = join(dir, "out");
          const b = await cliBuild(tb, clone, dir, tag, [
            "--output",
            `oci:${out}`,
            "--no-import-test",
            "--no-boot-test",
          ]);
          return { ...b, out };
        }),
      );
      const [a, b] = builds.map((x) => x.out) as [string, string];
      const differences = await diffLayouts(a, b);
      const image = await readLayoutImage(a);
      console.log(
        `${example}: ${image.manifestDigest} and ${(await readLayoutImage(b)).manifestDigest}` +
          ` (${builds.map((x) => `${x.seconds.toFixed(0)} s`).join(", ")})`,
      );
      expect(differences, `the two builds of ${example} differ:\n${differences.join("\n")}`).toEqual([]);
      // SOURCE_DATE_EPOCH was unset: the image's time is the commit's.
      expect(image.config.created).toBe(new Date(CLONE_EPOCH * 1000).toISOString().replace(".000Z", "Z"));
      const index = JSON.parse(await readFile(join(a, "index.json"), "utf8")) as { manifests: unknown[] };
      expect(index.manifests).toHaveLength(1);
    });
});
