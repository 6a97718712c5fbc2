/**
 * One of two processes hammering the same stage-cache key (stage-cache.test in src/reliability):
 * writes its own entry (a big one, so a torn write would show) and reads the key back, raw, many
 * times; prints how many reads saw each writer's entry, and exits 1 on any read that was not a
 * whole entry of one of the two writers.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { readStageCache, type StageCacheEntry, writeStageCache } from "../pipeline/stage-cache.js";

const [dir, key, me, rounds] = process.argv.slice(2) as [string, string, string, string];

export const entryOf = (who: string): StageCacheEntry => ({
  format: 1,
  imageId: `sha256:${who.repeat(64).slice(0, 64)}`,
  ref: `localhost/slimwheel-stage:${who}`,
  detection: {
    // ≈ 1 MB: written in many chunks, so a reader racing a non-atomic write would see half of it.
    resolution: { packages: Array.from({ length: 20_000 }, (_, i) => `${who}-package-${i}-padding-padding`) },
    extensions: who === "a" ? 1 : 2,
    wheels: who === "a" ? 10 : 20,
  } as unknown as StageCacheEntry["detection"],
});

const whole = new Map(["a", "b"].map((w) => [JSON.stringify(entryOf(w)), w]));
const seen: Record<string, number> = { a: 0, b: 0, missing: 0 };
for (let i = 0; i < Number(rounds); i++) {
  await writeStageCache(dir, key, entryOf(me));
  for (let j = 0; j < 3; j++) {
    const raw = await readFile(join(dir, `${key}.json`), "utf8").catch(() => undefined);
    if (raw === undefined) {
      seen.missing!++;
      continue;
    }
    const who = whole.get(raw);
    if (!who) {
      console.error(`read ${raw.length} bytes that are not a whole entry of either writer`);
      process.exit(1);
    }
    seen[who]!++;
    const parsed = await readStageCache(dir, key);
    if (!parsed) {
      console.error("readStageCache missed an entry that is there");
      process.exit(1);
    }
  }
}
console.log(JSON.stringify(seen));
