/**
 * `slimwheel cache ls|prune` over a real stage-cache directory made here (entries written by the
 * stage cache's own writer, an unreadable one, a temp leftover), run in-process with no engine on
 * PATH: the files part. The engine part (checkImages, removeEntryImages) needs an engine.
 */
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  type CacheEntry,
  formatAge,
  formatBytes,
  listStageCache,
  parseDuration,
  selectForPrune,
} from "../../pipeline/cache-admin.js";
import { stageCacheDir, writeStageCache } from "../../pipeline/stage-cache.js";
import { sbomCacheDir, sbomCachePath } from "../../sbom/index.js";
import { runCli } from "../testing.js";

const DAY = 86_400_000;
let root: string;
let env: Record<string, string>;
let dir: string;
let sbomDir: string;
const now = Date.now();

const entry = (stage: string, id: string) => ({
  format: 1,
  imageId: `sha256:${id.repeat(64).slice(0, 64)}`,
  ref: `localhost/slimwheel-stage:${stage}-${id.repeat(16).slice(0, 16)}`,
  detection: { resolution: { packages: [], unresolved: [] } as never, extensions: 2, wheels: 5 },
});

async function age(file: string, ms: number) {
  const t = new Date(now - ms);
  await utimes(file, t, t);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "cache-cli-"));
  // PATH empty: no engine is found, so only the files are handled
  env = { XDG_CACHE_HOME: join(root, "xdg"), HOME: join(root, "home"), PATH: join(root, "no-bin") };
  dir = stageCacheDir(env);
  expect(dir).toBe(join(root, "xdg", "slimwheel", "stages"));
  await writeStageCache(dir, "a".repeat(64), entry("artifacts", "a"));
  await writeStageCache(dir, "b".repeat(64), entry("artifacts", "b"));
  await writeStageCache(dir, "c".repeat(64), entry("wheels", "c"));
  await writeFile(join(dir, `${"d".repeat(64)}.json`), "{not json");
  await writeFile(join(dir, `.${"e".repeat(64)}.4242.tmp`), "{}");
  await writeFile(join(dir, `.${"f".repeat(64)}.4243.tmp`), "{}");
  await writeFile(join(dir, "README"), "not an entry");
  await age(join(dir, `${"a".repeat(64)}.json`), 10 * DAY);
  await age(join(dir, `${"b".repeat(64)}.json`), 3 * DAY);
  await age(join(dir, `${"c".repeat(64)}.json`), 5 * 60_000);
  await age(join(dir, `${"d".repeat(64)}.json`), 2 * DAY);
  await age(join(dir, `.${"e".repeat(64)}.4242.tmp`), 2 * 3_600_000);
  await age(join(dir, `.${"f".repeat(64)}.4243.tmp`), 60_000);
  // The SBOM files `build` writes for an image only in the engine: one old, one new, a temp leftover.
  sbomDir = sbomCacheDir(env);
  expect(sbomDir).toBe(join(root, "xdg", "slimwheel", "sbom"));
  await mkdir(sbomDir, { recursive: true });
  const oldSbom = sbomCachePath(sbomDir, "localhost/old:1", `sha256:${"1".repeat(64)}`, "cyclonedx");
  const newSbom = sbomCachePath(sbomDir, "localhost/new:1", `sha256:${"2".repeat(64)}`, "spdx");
  const tmpSbom = join(sbomDir, ".localhost_x@333333333333.cdx.json.slimwheel-42-0a0b0c0d.tmp");
  for (const f of [oldSbom, newSbom, tmpSbom]) await writeFile(f, "{}\n");
  await age(oldSbom, 10 * DAY);
  await age(newSbom, 60_000);
  await age(tmpSbom, 2 * 3_600_000);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("the stage cache's files", () => {
  it("lists entries, unreadable entries and temp leftovers, oldest first, with sizes and times", async () => {
    const list = await listStageCache(dir);
    expect(list.map((e) => [e.kind, e.key[0]])).toEqual([
      ["stage", "a"],
      ["stage", "b"],
      ["invalid", "d"],
      ["temp", "e"],
      ["stage", "c"],
      ["temp", "f"],
    ]);
    expect(list[0]).toMatchObject({
      ref: "localhost/slimwheel-stage:artifacts-aaaaaaaaaaaaaaaa",
      image: "unknown",
    });
    expect(list[0]!.bytes).toBeGreaterThan(100);
    expect(Math.round((now - list[0]!.modifiedMs) / DAY)).toBe(10);
    expect(await listStageCache(join(root, "nothing-here"))).toEqual([]);
  });

  it("selects for prune: garbage by default, by age, or all; temp files younger than an hour stay", async () => {
    const list = await listStageCache(dir);
    const keys = (l: CacheEntry[]) => l.map((e) => e.key[0]).join("");
    expect(keys(selectForPrune(list, { now }))).toBe("de");
    expect(keys(selectForPrune(list, { now, olderThanMs: 7 * DAY }))).toBe("ade");
    expect(keys(selectForPrune(list, { now, olderThanMs: DAY }))).toBe("abde");
    expect(keys(selectForPrune(list, { now, all: true }))).toBe("abdecf");
    // an entry whose image the engine no longer has is garbage too
    const gone = list.map((e) => (e.key[0] === "c" ? { ...e, image: "missing" as const } : e));
    expect(keys(selectForPrune(gone, { now }))).toBe("dec");
  });

  it("parses durations and formats sizes and ages", () => {
    expect(parseDuration("7d")).toBe(7 * DAY);
    expect(parseDuration("1d12h")).toBe(1.5 * DAY);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("2w")).toBe(14 * DAY);
    for (const bad of ["", "7", "d", "7 days", "-1d", "7y"])
      expect(() => parseDuration(bad)).toThrow(
        expect.objectContaining({ code: "usage", hint: expect.stringContaining("7d") }),
      );
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MiB");
    expect(formatAge(45_000)).toBe("45s");
    expect(formatAge(3 * 3_600_000 + 5 * 60_000)).toBe("3h 5m");
    expect(formatAge(2 * DAY + 4 * 3_600_000)).toBe("2d 4h");
  });
});

describe("slimwheel cache", { timeout: 30_000 }, () => {
  it("ls prints each entry with size, age and image state, and the totals", async () => {
    const r = await runCli(["cache", "ls"], { env });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`stage cache ${dir} (images not checked: no engine)`);
    expect(lines[1]).toMatch(/^KIND\s+KEY\s+SIZE\s+AGE\s+IMAGE\s+REF$/);
    expect(lines[2]).toMatch(
      /^stage\s+a{16}…\s+\d+ B\s+10d\s+unknown\s+localhost\/slimwheel-stage:artifacts-a{16}$/,
    );
    expect(lines[4]).toMatch(/^invalid\s+d{16}…\s+9 B\s+2d\s+unknown\s+-$/);
    expect(lines[6]).toMatch(
      /^stage\s+c{16}…\s+\d+ B\s+5m\s+unknown\s+localhost\/slimwheel-stage:wheels-c{16}$/,
    );
    expect(r.stdout).toMatch(/\n6 entries, \d+ B on disk; 3 engine images referenced/);
    // The layer cache's part follows (empty here), then the SBOM files.
    expect(r.stdout).toMatch(/\nlayer cache .+\n {2}empty\n\nSBOM files /);
    const sbomPart = r.stdout.slice(r.stdout.indexOf("SBOM files ")).trimEnd().split("\n");
    expect(sbomPart[0]).toBe(`SBOM files ${sbomDir}`);
    expect(sbomPart[1]).toMatch(/^KIND\s+FILE\s+SIZE\s+AGE$/);
    expect(sbomPart[2]).toMatch(/^sbom\s+localhost_old_1@111111111111\.cdx\.json\s+3 B\s+10d$/);
    expect(sbomPart[3]).toMatch(
      /^temp\s+\.localhost_x@333333333333\.cdx\.json\.slimwheel-42-0a0b0c0d\.tmp\s+3 B\s+2h$/,
    );
    expect(sbomPart[4]).toMatch(/^sbom\s+localhost_new_1@222222222222\.spdx\.json\s+3 B\s+1m$/);
    expect(sbomPart[5]).toBe("3 files, 9 B");

    const old = await runCli(["--json", "cache", "ls", "--older-than", "2d12h"], { env });
    const j = JSON.parse(old.stdout) as {
      dir: string;
      engine: null;
      entries: { key: string; ageSeconds: number }[];
      totals: { entries: number; bytes: number };
    };
    expect(j.dir).toBe(dir);
    expect(j.engine).toBeNull();
    expect(j.entries.map((e) => e.key[0])).toEqual(["a", "b"]);
    expect(j.entries[0]!.ageSeconds).toBeGreaterThanOrEqual(10 * 86_400 - 5);
    expect(j.totals.entries).toBe(2);
    const js = (JSON.parse(old.stdout) as { sboms: { dir: string; files: { file: string }[] } }).sboms;
    expect(js.dir).toBe(sbomDir);
    expect(js.files.map((f) => f.file)).toEqual([join(sbomDir, "localhost_old_1@111111111111.cdx.json")]);

    const empty = await runCli(["cache", "ls"], { env: { ...env, XDG_CACHE_HOME: join(root, "empty") } });
    expect(
      empty.stdout.startsWith(`stage cache ${join(root, "empty", "slimwheel", "stages")}: empty\n`),
    ).toBe(true);
  });

  it("prune removes the garbage by default, then by age, then all; --dry-run removes nothing", async () => {
    const files = async () => (await readdir(dir)).sort();
    const dry = await runCli(["cache", "prune", "--all", "--dry-run"], { env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("would remove 6 entries");
    expect(dry.stdout).toContain("would remove 2 SBOM files and 1 temp file (9 B); kept 0");
    expect(await readdir(sbomDir)).toHaveLength(3);
    expect(await files()).toHaveLength(7);

    const garbage = await runCli(["cache", "prune"], { env });
    expect(garbage.code, garbage.stderr).toBe(0);
    expect(garbage.stdout).toContain(`removed unreadable entry ${"d".repeat(64)}`);
    expect(garbage.stdout).toContain(`removed leftover temp file of ${"e".repeat(64)}`);
    expect(garbage.stdout).toMatch(/removed 2 entries \(\d+ B on disk\); kept 4\n/);
    expect(garbage.stdout).toMatch(/removed 0 layer cache entries and 0 unused blobs \(0 B\)\n/);
    // An SBOM is a build's result, never garbage: only the temp leftover older than an hour goes.
    expect(garbage.stdout).toMatch(/removed 0 SBOM files and 1 temp file \(3 B\); kept 2\n$/);
    expect((await readdir(sbomDir)).sort()).toEqual([
      "localhost_new_1@222222222222.spdx.json",
      "localhost_old_1@111111111111.cdx.json",
    ]);
    expect(await files()).toEqual(
      [
        `${"a".repeat(64)}.json`,
        `${"b".repeat(64)}.json`,
        `${"c".repeat(64)}.json`,
        `.${"f".repeat(64)}.4243.tmp`,
        "README",
      ].sort(),
    );

    const old = await runCli(["--json", "cache", "prune", "--older-than", "7d"], { env });
    const j = JSON.parse(old.stdout) as {
      removed: { key: string; ref: string }[];
      imagesLeft: string[];
      kept: number;
      dryRun: boolean;
      sboms: { removed: { file: string }[]; kept: number };
    };
    expect(j.removed.map((e) => e.key[0])).toEqual(["a"]);
    expect(j.imagesLeft).toEqual(["localhost/slimwheel-stage:artifacts-aaaaaaaaaaaaaaaa"]);
    expect(j.kept).toBe(3);
    expect(j.dryRun).toBe(false);
    expect(j.sboms.removed.map((x) => x.file)).toEqual([
      join(sbomDir, "localhost_old_1@111111111111.cdx.json"),
    ]);
    expect(j.sboms.kept).toBe(1);
    expect(old.stderr).toContain("no container engine found: the entries' images are left");

    const all = await runCli(["cache", "prune", "--all"], { env });
    expect(all.stdout).toMatch(/removed 3 entries .*; kept 0\n/);
    expect(await files()).toEqual(["README"]);
    expect(all.stdout).toMatch(/removed 1 SBOM file \(3 B\); kept 0\n$/);
    expect(await readdir(sbomDir)).toEqual([]);
  });

  it("refuses a bad duration as a usage error (exit 2)", async () => {
    const r = await runCli(["cache", "prune", "--older-than", "soon"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--older-than "soon" is not a duration');
    expect(r.stderr).toContain("hint: write a number and a unit");
    await mkdir(join(root, "x"), { recursive: true });
  });
});
