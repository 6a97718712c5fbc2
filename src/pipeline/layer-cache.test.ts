import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readProject } from "../project/read.js";
import { assembleArtifacts, assemblePlan } from "./assemble.js";
import { reusableImportTest, sameAppTree, writeAppTree } from "./fast-build.js";
import {
  appCopyStep,
  appHasDistributions,
  closureFile,
  firstElf,
  LAYER_CACHE_FORMAT,
  type LayerCacheEntry,
  type LowerKeyInput,
  layerCacheDirs,
  lowerKey,
  readLayerEntry,
  writeLayerEntry,
} from "./layer-cache.js";

const EXAMPLE = join(import.meta.dirname, "..", "..", "examples", "flask-app");
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "layer-cache-"));
  await cp(EXAMPLE, dir, { recursive: true });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const keyOf = async (over: Partial<LowerKeyInput> = {}, bases: Record<string, string> = {}) => {
  const project = await readProject(dir);
  const plans = [assembleArtifacts(project, "slimwheel")!, assemblePlan(project, "slimwheel")];
  return lowerKey(
    project,
    {
      version: "1.0.0",
      strategy: "slimwheel",
      engine: "buildah",
      buildArgs: {},
      plans,
      runtime: { keep: [], debugShell: false, excludeRuntimePackages: [] },
      ...over,
    },
    async (ref) => bases[ref] ?? `sha256:${"0".repeat(64)}`,
  );
};

describe("the layer cache key", () => {
  it("does not change with the app's code, and changes with what the lower layers are made of", async () => {
    const k0 = await keyOf();
    expect(k0).toMatch(/^[0-9a-f]{64}$/);
    await writeFile(join(dir, "app.py"), "print('changed')\n");
    expect(await keyOf()).toBe(k0);
    await writeFile(join(dir, "requirements.txt"), "flask==3.0.0\n");
    const k1 = await keyOf();
    expect(k1).not.toBe(k0);
    expect(await keyOf({ version: "1.0.1" })).not.toBe(k1);
    expect(await keyOf({ engine: "docker" })).not.toBe(k1);
    expect(await keyOf({ buildArgs: { PIP_INDEX_URL: "http://127.0.0.1:1/simple/" } })).not.toBe(k1);
    expect(
      await keyOf({ runtime: { keep: ["/etc/x"], debugShell: false, excludeRuntimePackages: [] } }),
    ).not.toBe(k1);
    expect(await keyOf({}, { "python:3.11-slim": `sha256:${"1".repeat(64)}` })).not.toBe(k1);
  });

  it("has no key when a base image cannot be resolved", async () => {
    const project = await readProject(dir);
    const plans = [assembleArtifacts(project, "slimwheel")!, assemblePlan(project, "slimwheel")];
    const key = await lowerKey(
      project,
      {
        version: "1",
        strategy: "slimwheel",
        engine: "auto",
        buildArgs: {},
        plans,
        runtime: { keep: [], debugShell: false, excludeRuntimePackages: [] },
      },
      async () => undefined,
    );
    expect(key).toBeUndefined();
  });

  it("finds the app layer's COPY only as the final stage's last copy into /app", async () => {
    const project = await readProject(dir);
    const plan = assemblePlan(project, "slimwheel");
    expect(appCopyStep(plan)).toMatchObject({ kind: "copy", sources: ["."] });
    const last = plan.stages.at(-1)!;
    const moved = {
      ...plan,
      stages: [
        ...plan.stages.slice(0, -1),
        {
          ...last,
          steps: [...last.steps, { kind: "copy" as const, why: "x", sources: ["extra"], dest: "/opt/" }],
        },
      ],
    };
    expect(appCopyStep(moved)).toBeUndefined();
  });
});

describe("the app layer from the project", () => {
  it("writes the project's files under app/ and compares trees", async () => {
    const project = await readProject(dir);
    const plan = assemblePlan(project, "slimwheel");
    const out = await mkdtemp(join(tmpdir(), "layer-cache-tree-"));
    try {
      const files = await writeAppTree(project, plan, out);
      expect(files).toContain("app.py");
      expect(await sameAppTree(out, project, plan)).toBeUndefined();
      await writeFile(join(out, "app", "extra.txt"), "made by a build step\n");
      expect(await sameAppTree(out, project, plan)).toMatch(/extra\.txt/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it("finds ELF objects and distribution metadata among the app's files", async () => {
    await writeFile(join(dir, "native.so"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
    expect(await firstElf(dir, ["app.py", "native.so"])).toBe("native.so");
    expect(await firstElf(dir, ["app.py"])).toBeUndefined();
    expect(appHasDistributions(["vendor/x-1.0.dist-info/METADATA"])).toBe(true);
    expect(appHasDistributions(["app.py", "info/dist.txt"])).toBe(false);
  });

  it("reuses the import test unless an app module shadows an imported one", () => {
    const importTest = {
      python: "3.11",
      checked: [
        { module: "flask", dist: "Flask" },
        { module: "yaml", dist: "PyYAML" },
      ],
      failures: [],
    };
    expect(reusableImportTest({ importTest }, ["app.py", "templates/index.html"])).toBe(importTest);
    expect(reusableImportTest({ importTest }, ["yaml.py"])).toBeUndefined();
    expect(reusableImportTest({ importTest }, ["flask/__init__.py"])).toBeUndefined();
    expect(reusableImportTest({}, ["app.py"])).toBeUndefined();
  });
});

describe("entries", () => {
  it("are written atomically and read back, the closure's lists from their own file when first used; a broken file is a miss", async () => {
    const dirs = layerCacheDirs({ XDG_CACHE_HOME: dir });
    const key = "a".repeat(64);
    expect(await readLayerEntry(dirs, key)).toBeUndefined();
    const file = (path: string) => ({
      path,
      kind: "file" as const,
      size: 1,
      mode: 0o644,
      role: "runtime" as const,
      reason: "stdlib" as const,
    });
    const closure = {
      python: { executable: "/usr/bin/python3", version: "3.11", stdlib: "/usr/lib/python3.11" },
      layers: [
        {
          role: "runtime" as const,
          source: "base" as const,
          files: [file("/a"), file("/b")],
          generated: [],
          bytes: 2,
          byReason: {},
        },
        {
          role: "app" as const,
          source: "image" as const,
          files: [file("/app/x")],
          generated: [],
          bytes: 1,
          byReason: {},
        },
      ],
      dropped: [{ group: "docs" as const, files: 1, bytes: 5, paths: ["/usr/share/doc/x"] }],
      unresolved: [],
      packages: ["libc6"],
      distributions: ["flask"],
    } as unknown as LayerCacheEntry["closure"];
    const entry: LayerCacheEntry = {
      format: LAYER_CACHE_FORMAT,
      key,
      lowerEpoch: 0,
      engine: { id: "buildah" as const, available: true, detail: "" },
      lower: [],
      config: {},
      closure,
      plan: {} as never,
      fastPath: { ok: true as const },
    };
    await writeLayerEntry(dirs, entry);
    // The entry itself holds no list: they are in KEY.DIGEST.closure, which it names.
    const stored = await readFile(join(dirs.entries, `${key}.json`), "utf8");
    expect(stored).not.toContain("/usr/share/doc/x");
    const digest = (JSON.parse(stored) as { closureLists: string }).closureLists;
    const lists = closureFile(dirs, key, digest);
    expect(await readFile(lists, "utf8")).toContain("/usr/share/doc/x");
    const back = await readLayerEntry(dirs, key);
    expect(back).toEqual(entry);
    expect(JSON.parse(JSON.stringify(back))).toEqual(JSON.parse(JSON.stringify(entry)));
    // Without its lists' file, an entry is a miss; lists gone after reading are an error, never empty.
    const bytes = await readFile(lists);
    await rm(lists);
    expect(await readLayerEntry(dirs, key)).toBeUndefined();
    await writeFile(lists, bytes);
    const later = (await readLayerEntry(dirs, key))!;
    await rm(lists);
    expect(() => later.closure.layers[0]!.files).toThrow(/reading the layer cache.s closure lists .*ENOENT/);
    // Written again with other lists: the entry names the new file.
    await writeLayerEntry(dirs, { ...entry, closure: { ...closure, packages: ["x"], dropped: [] } });
    expect((await readLayerEntry(dirs, key))?.closure.dropped).toEqual([]);
    await writeFile(join(dirs.entries, `${key}.json`), "{ not json");
    expect(await readLayerEntry(dirs, key)).toBeUndefined();
  });
});
