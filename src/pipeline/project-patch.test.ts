import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Closure, KeptFile } from "../minimize/closure.js";
import { parseCsv } from "../minimize/record.js";
import { readProject } from "../project/read.js";
import { assembleArtifacts, assemblePlan } from "./assemble.js";
import { type LowerKeyInput, lowerKey } from "./layer-cache.js";
import {
  appShape,
  changedFiles,
  describePatch,
  installedCopy,
  patchableFiles,
  patchRecord,
  settlePyc,
  startProjectPatch,
  unpatchable,
  wheelTops,
  withoutTops,
} from "./project-patch.js";

const EXAMPLES = join(import.meta.dirname, "..", "..", "examples");
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "project-patch-"));
  await cp(join(EXAMPLES, "c-extension"), dir, { recursive: true });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const plansOf = async (at = dir) => {
  const project = await readProject(at);
  return { project, plans: [assembleArtifacts(project, "slimwheel")!, assemblePlan(project, "slimwheel")] };
};

const keyOf = async () => {
  const { project, plans } = await plansOf();
  const input: LowerKeyInput = {
    version: "1.0.0",
    strategy: "slimwheel",
    engine: "buildah",
    buildArgs: {},
    plans,
    runtime: { keep: [], debugShell: false, excludeRuntimePackages: [] },
  };
  return lowerKey(project, input, async () => `sha256:${"0".repeat(64)}`);
};

/** Python's RECORD hash: `sha256=` and the urlsafe base64 digest without padding. */
const recordHash = (data: string | Buffer) =>
  `sha256=${createHash("sha256").update(data).digest("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;

describe("an app installed as its own wheel", () => {
  it("is the wheel shape: the app-wheel stage's tree copied last into /app, after its wheel's install", async () => {
    const { plans } = await plansOf();
    expect(appShape(plans[1]!)).toMatchObject({ kind: "wheel", stage: "app-wheel" });
    const flask = await plansOf(join(EXAMPLES, "flask-app"));
    expect(appShape(flask.plans[1]!)).toMatchObject({ kind: "copy" });
    // A RUN after the app's copy, or no install of the stage's wheel: no shape the cache can replace.
    const final = plans[1]!.stages.at(-1)!;
    const withRun = {
      ...plans[1]!,
      stages: [
        ...plans[1]!.stages.slice(0, -1),
        { ...final, steps: [...final.steps, { kind: "run" as const, why: "x", commands: ["true"] }] },
      ],
    };
    expect(appShape(withRun)).toBeUndefined();
    const noInstall = {
      ...plans[1]!,
      stages: [
        ...plans[1]!.stages.slice(0, -1),
        {
          ...final,
          steps: final.steps.filter(
            (s) => s.kind !== "run" || !s.mounts?.some((m) => m.type === "bind" && m.from === "app-wheel"),
          ),
        },
      ],
    };
    expect(appShape(noInstall)).toBeUndefined();
  });

  it("keys the lower layers on its .py files' names, not their bytes; on everything else's bytes", async () => {
    const k0 = await keyOf();
    expect(k0).toMatch(/^[0-9a-f]{64}$/);
    await writeFile(join(dir, "src/wordstats/cli.py"), "print('changed')\n");
    await writeFile(join(dir, "smoke.py"), "print('changed too')\n");
    expect(await keyOf()).toBe(k0);
    // The C source, setup.py, a new module: the wheel is built again.
    await writeFile(join(dir, "src/wordstats/_speedups.c"), "/* changed */\n");
    const k1 = await keyOf();
    expect(k1).not.toBe(k0);
    await writeFile(join(dir, "setup.py"), `${await readFile(join(dir, "setup.py"), "utf8")}\n# changed\n`);
    const k2 = await keyOf();
    expect(k2).not.toBe(k1);
    await writeFile(join(dir, "src/wordstats/extra.py"), "X = 1\n");
    expect(await keyOf()).not.toBe(k2);
  });

  it("patches only with static metadata: a dynamic version may be read from a module", async () => {
    const { project, plans } = await plansOf();
    const files = ["setup.py", "smoke.py", "src/wordstats/cli.py", "src/wordstats/_speedups.c"];
    expect([...(await patchableFiles(project, plans[1]!, files))].sort()).toEqual([
      "smoke.py",
      "src/wordstats/cli.py",
    ]);
    // What the build runs counts by its bytes: hooks, a root module the build names, an in-tree backend.
    await writeFile(join(dir, "hatch_build.py"), "X = 1\n");
    await writeFile(join(dir, "version_helper.py"), "V = '1'\n");
    await mkdir(join(dir, "_backend"));
    await writeFile(join(dir, "_backend", "build.py"), "\n");
    const py = join(dir, "pyproject.toml");
    const original = await readFile(py, "utf8");
    await writeFile(
      py,
      `${original.replace("[build-system]", '[build-system]\nbackend-path = ["./_backend/"]')}\n# uses version_helper\n`,
    );
    const hooks = await plansOf();
    const more = [...files, "hatch_build.py", "version_helper.py", "_backend/build.py"];
    expect([...(await patchableFiles(hooks.project, hooks.plans[1]!, more))].sort()).toEqual([
      "smoke.py",
      "src/wordstats/cli.py",
    ]);
    await writeFile(py, original.replace('version = "0.1.0"', 'dynamic = ["version"]'));
    const again = await plansOf();
    expect(await patchableFiles(again.project, again.plans[1]!, files)).toEqual(new Set());
    // The flask app is no wheel: nothing to patch.
    const flask = await plansOf(join(EXAMPLES, "flask-app"));
    expect(await patchableFiles(flask.project, flask.plans[1]!, ["app.py"])).toEqual(new Set());
  });

  it("finds a source file's installed copy: its whole path in the site directory must end the source's", () => {
    const site = "/usr/lib/python3/dist-packages";
    const at = (siteRel: string) => ({ path: `${site}/${siteRel}`, siteRel });
    expect(installedCopy("src/pkg/cli.py", [at("pkg/cli.py")])).toBe(`${site}/pkg/cli.py`);
    expect(installedCopy("pkg/cli.py", [at("pkg/cli.py")])).toBe(`${site}/pkg/cli.py`);
    expect(installedCopy("src/a/__init__.py", [at("a/__init__.py"), at("b/__init__.py")])).toBe(
      `${site}/a/__init__.py`,
    );
    // An empty tests/__init__.py is no copy of an empty pkg/__init__.py, though the bytes are the same.
    expect(installedCopy("tests/__init__.py", [at("pkg/__init__.py")])).toBeUndefined();
    expect(installedCopy("xpkg/cli.py", [at("pkg/cli.py")])).toBeUndefined();
    expect(installedCopy("tools/run.py", [at("pkg/cli.py")])).toBeUndefined();
  });

  it("knows the wheel's top-level directories and leaves them out of the app's tree", () => {
    const record = [
      "pkg/__init__.py,sha256=x,1",
      "pkg/sub/m.py,sha256=y,2",
      "single.py,sha256=z,3",
      "pkg-1.0.dist-info/RECORD,,",
      "pkg-1.0.data/scripts/x,sha256=w,4",
      "../../../bin/pkg,sha256=v,5",
    ].join("\n");
    expect(wheelTops(record)).toEqual(["pkg"]);
    expect(withoutTops(["pkg/__init__.py", "pkg", "single.py", "src/pkg/a.py", "x/pkg.py"], ["pkg"])).toEqual(
      ["pkg", "single.py", "src/pkg/a.py", "x/pkg.py"],
    );
  });

  it("says which changed file it cannot patch", () => {
    const info = {
      files: {},
      installed: { "src/pkg/cli.py": "/site/pkg/cli.py" },
      appOnly: ["smoke.py"],
      tops: [],
    };
    const tree = new Set(["smoke.py", "src/pkg/cli.py", "src/pkg/notes.py"]);
    expect(unpatchable([{ rel: "src/pkg/cli.py" }, { rel: "smoke.py" }], info, tree)).toBeUndefined();
    // Its installed copy had no bytecode where the others had: it did not compile; now pip would compile it.
    expect(
      unpatchable([{ rel: "src/pkg/cli.py" }], { ...info, uncompiled: ["/site/pkg/cli.py"] }, tree),
    ).toMatch(/has no bytecode/);
    expect(unpatchable([{ rel: "src/pkg/notes.py" }], info, tree)).toMatch(
      /^src\/pkg\/notes\.py changed, and it is not a file the project's wheel installs as it is/,
    );
  });
});

describe("RECORD, patched", () => {
  const site = "/s";
  it("rewrites the hash and size of a changed file, keeps lines without a hash, drops the dropped", () => {
    const text =
      'pkg/a.py,sha256=old,3\r\npkg/__pycache__/a.cpython-311.pyc,,\r\n"pkg/we,ird.py",sha256=old,1\r\npkg/b.py,sha256=keep,9\r\n';
    const changed = new Map([
      ["/s/pkg/a.py", Buffer.from("new bytes")],
      ["/s/pkg/__pycache__/a.cpython-311.pyc", Buffer.from("pyc")],
      ["/s/pkg/we,ird.py", Buffer.from("x")],
    ]);
    const out = patchRecord(text, site, changed);
    expect(out.split("\r\n")).toEqual([
      `pkg/a.py,${recordHash("new bytes")},9`,
      "pkg/__pycache__/a.cpython-311.pyc,,",
      `"pkg/we,ird.py",${recordHash("x")},1`,
      "pkg/b.py,sha256=keep,9",
      "",
    ]);
    expect(patchRecord(text, site, new Map(), new Set(["/s/pkg/__pycache__/a.cpython-311.pyc"]))).toBe(
      'pkg/a.py,sha256=old,3\r\n"pkg/we,ird.py",sha256=old,1\r\npkg/b.py,sha256=keep,9\r\n',
    );
  });

  it("property: the lines of unchanged files stay byte for byte; changed ones carry their new hash", () => {
    const name = fc.stringMatching(/^[a-z,"]{1,6}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(name, { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        (names, change) => {
          const quote = (s: string) => (/[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
          const lines = names.map((n, i) => `${quote(`p/${n}.py`)},sha256=h${i},${i}\n`);
          const changed = new Map(
            names.filter((_, i) => change[i]).map((n) => [`/s/p/${n}.py`, Buffer.from(`new ${n}`)]),
          );
          const out = patchRecord(lines.join(""), site, changed).split(/(?<=\n)/);
          expect(out).toHaveLength(lines.length);
          names.forEach((n, i) => {
            if (!change[i]) expect(out[i]).toBe(lines[i]);
            else
              expect(parseCsv(out[i]!)[0]).toEqual([
                `p/${n}.py`,
                recordHash(`new ${n}`),
                String(`new ${n}`.length),
              ]);
          });
        },
      ),
    );
  });
});

describe("bytecode, compiled again", () => {
  it("records the layer's epoch and the source's size in a timestamp .pyc; a hash-based one is left as it is", () => {
    const pyc = Buffer.alloc(20);
    pyc.writeUInt32LE(0x0a0d0da7, 0);
    pyc.writeUInt32LE(0, 4);
    pyc.writeUInt32LE(123456, 8);
    pyc.writeUInt32LE(7, 12);
    const out = settlePyc(pyc, Buffer.from("abc"), 1000);
    expect([out.readUInt32LE(8), out.readUInt32LE(12)]).toEqual([1000, 3]);
    expect(out.subarray(16)).toEqual(pyc.subarray(16));
    const hashed = Buffer.from(pyc);
    hashed.writeUInt32LE(3, 4);
    expect(settlePyc(hashed, Buffer.from("abc"), 1000)).toEqual(hashed);
  });
});

describe("a project layer patched from the cached tree", () => {
  it("writes the changed file, compiles its bytecode, rewrites RECORD, and keeps every other file", async () => {
    const root = join(dir, "root");
    const site = "/usr/lib/python3/dist-packages";
    const files: Record<string, string> = {
      [`${site}/wordstats/__init__.py`]: "from ._speedups import count_words\n",
      [`${site}/wordstats/cli.py`]: await readFile(join(dir, "src/wordstats/cli.py"), "utf8"),
      [`${site}/wordstats/__pycache__/cli.cpython-311.pyc`]: "\xa7\r\r\n\0\0\0\0old-pyc-body",
      [`${site}/wordstats/_speedups.c`]: await readFile(join(dir, "src/wordstats/_speedups.c"), "utf8"),
    };
    const record =
      [
        `wordstats/__init__.py,${recordHash(files[`${site}/wordstats/__init__.py`]!)},36`,
        "wordstats/__pycache__/cli.cpython-311.pyc,,",
        `wordstats/cli.py,${recordHash(files[`${site}/wordstats/cli.py`]!)},1`,
        "wordstats/_speedups.c,sha256=c,1",
        "wordstats-0.1.0.dist-info/RECORD,,",
      ].join("\n") + "\n";
    files[`${site}/wordstats-0.1.0.dist-info/RECORD`] = record;
    const kept: KeptFile[] = [];
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(root, path, ".."), { recursive: true });
      await writeFile(join(root, path), content, "latin1");
      kept.push({
        path,
        kind: "file",
        size: content.length,
        mode: 0o644,
        role: "project",
        reason: "distribution",
      });
    }
    const closure = {
      python: { executable: "/usr/bin/python3.11", version: "3.11", stdlib: "/usr/lib/python3.11" },
      layers: [{ role: "project", source: "image", files: kept, generated: [], bytes: 0, byReason: {} }],
      dropped: [],
      unresolved: [],
      packages: [],
      distributions: ["wordstats"],
    } as unknown as Closure;
    const { project } = await plansOf();
    const info = await describePatch(project, new Set(["src/wordstats/cli.py", "smoke.py"]), closure, root);
    expect(info.installed).toEqual({ "src/wordstats/cli.py": `${site}/wordstats/cli.py` });
    expect(info.appOnly).toEqual(["smoke.py"]);
    expect(info.uncompiled).toEqual([]);
    expect(info.refused).toBeUndefined();
    expect(info.tops).toEqual(["wordstats"]);

    const next = `${files[`${site}/wordstats/cli.py`]}# changed\n`;
    await writeFile(join(dir, "src/wordstats/cli.py"), next);
    const changed = await changedFiles(project, info);
    expect(changed.map((c) => c.rel)).toEqual(["src/wordstats/cli.py"]);
    const dest = join(dir, "layer");
    const started = await startProjectPatch(project, info, changed, closure, root, dest);
    // The proofs mount the new source and a RECORD that has its hash, before the bytecode is made.
    expect(started.overlays.map((o) => o.target)).toEqual([
      `${site}/wordstats/cli.py`,
      `${site}/wordstats-0.1.0.dist-info/RECORD`,
    ]);
    expect(await readFile(started.overlays[0]!.source, "utf8")).toBe(next);
    const asked: unknown[] = [];
    const patched = await started.finish({
      epoch: 1000,
      compile: async (jobs) => {
        asked.push(...jobs);
        const pyc = Buffer.alloc(24);
        pyc.write("new-body", 16);
        return new Map(jobs.map((j) => [j.pyc, pyc]));
      },
    });
    expect(asked).toEqual([
      {
        pyc: `${site}/wordstats/__pycache__/cli.cpython-311.pyc`,
        source: `${site}/wordstats/cli.py`,
        optimize: 0,
        flags: 0,
      },
    ]);
    const pyc = await readFile(join(dest, site, "wordstats/__pycache__/cli.cpython-311.pyc"));
    expect([pyc.readUInt32LE(8), pyc.readUInt32LE(12)]).toEqual([1000, Buffer.byteLength(next)]);
    expect(await readFile(join(dest, site, "wordstats/_speedups.c"), "utf8")).toBe(
      files[`${site}/wordstats/_speedups.c`],
    );
    const rec = await readFile(join(dest, site, "wordstats-0.1.0.dist-info/RECORD"), "utf8");
    expect(rec).toContain(`wordstats/cli.py,${recordHash(next)},${Buffer.byteLength(next)}\n`);
    expect(rec).toContain("wordstats/__pycache__/cli.cpython-311.pyc,,\n");
    expect(patched.layers[0]!.files.find((f) => f.path.endsWith("cli.py"))?.size).toBe(
      Buffer.byteLength(next),
    );

    // A source that does not compile: no .pyc, and no RECORD line for it (as pip would leave it).
    const again = await startProjectPatch(project, info, changed, closure, root, join(dir, "layer2"));
    const broken = await again.finish({ epoch: 1000, compile: async () => new Map() });
    const rec2 = await readFile(join(dir, "layer2", site, "wordstats-0.1.0.dist-info/RECORD"), "utf8");
    expect(rec2).not.toContain("cli.cpython-311.pyc");
    expect(broken.layers[0]!.files.some((f) => f.path.endsWith(".pyc"))).toBe(false);
    // The tally by reason follows the files (the report counts them from it).
    const tallied = (l: (typeof broken.layers)[number]) =>
      Object.values(l.byReason).reduce((n, r) => n + (r?.files ?? 0), 0);
    expect(tallied(broken.layers[0]!)).toBe(broken.layers[0]!.files.length);
    expect(tallied(patched.layers[0]!)).toBe(patched.layers[0]!.files.length);
  });
});
