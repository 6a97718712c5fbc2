import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageConfig } from "../oci/image-writer.js";
import { writeLayerTrees } from "./assemble.js";
import {
  layerEpoch,
  layerEpochs,
  minimalConfig,
  readTreeStamp,
  treeStamp,
  writeLayers,
  writeRootfs,
} from "./buildah.js";
import { computeClosure } from "./closure.js";
import { pycHeader } from "./pyc.testutil.js";

describe("layerEpoch", () => {
  const commit = 1_750_000_000; // the last commit
  const base = "2025-01-01T00:00:00Z"; // 1735689600
  // Regression: every layer was clamped to the commit's time, so files installed by the build
  // (passwd/group, site-packages) got a new mtime at every commit and a one-line change re-pushed
  // every lower layer.
  it("clamps the system and dependencies layers to the base image's time, whatever the commit", () => {
    for (const role of ["system", "dependencies"]) {
      expect(layerEpoch(role, commit, base)).toBe(1735689600);
      expect(layerEpoch(role, commit + 86_400, base)).toBe(1735689600);
    }
  });
  it("clamps the app layer to the commit", () => {
    expect(layerEpoch("app", commit, base)).toBe(commit);
  });
  it("never takes the system and dependencies layers past SOURCE_DATE_EPOCH: a commit older than the base wins", () => {
    expect(layerEpoch("dependencies", 1_000, base)).toBe(1_000);
    expect(layerEpoch("system", commit, undefined)).toBe(commit);
    expect(layerEpoch("system", commit, "yesterday")).toBe(commit);
    expect(layerEpoch("system", commit, "1970-01-01T00:00:00Z")).toBe(0);
  });
  // Regression: the runtime layer got min(SOURCE_DATE_EPOCH, base), so one base gave different
  // runtime layers to a project committed before it, after it, or not in git.
  it("gives the runtime layer the base image's time alone (0 when it has none)", () => {
    for (const epoch of [0, 1_000, commit]) {
      expect(layerEpoch("runtime", epoch, base)).toBe(1735689600);
      expect(layerEpoch("runtime", epoch, undefined)).toBe(0);
      expect(layerEpoch("runtime", epoch, "yesterday")).toBe(0);
    }
  });
});

describe("the minimal image's layers over a fixture root", () => {
  let root: string;
  let work: string;
  const baseCreated = "2025-01-01T00:00:00Z";
  const put = (path: string, content = "x\n", mode = 0o644) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content, { mode });
  };
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "minimal-layers-"));
    work = mkdtempSync(join(tmpdir(), "minimal-layers-out-"));
    put("/usr/local/bin/python3.12", "not an ELF file", 0o755);
    symlinkSync("python3.12", join(root, "usr/local/bin/python3"));
    put("/usr/local/lib/python3.12/os.py", "import sys\n");
    put("/usr/local/lib/python3.12/site-packages/flask/__init__.py");
    put("/usr/local/lib/python3.12/site-packages/flask-3.0.dist-info/METADATA", "Name: flask\n");
    put(
      "/usr/local/lib/python3.12/site-packages/flask-3.0.dist-info/RECORD",
      "flask/__init__.py,,\nflask-3.0.dist-info/METADATA,,\n",
    );
    put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    put("/app/app.py", "print('hi')\n");
  });
  afterAll(() => {
    for (const d of [root, work]) if (d) rmSync(d, { recursive: true, force: true });
  });

  /** The layers' digests by role for one SOURCE_DATE_EPOCH (trees copied anew: mtimes of now). */
  async function digests(sourceDateEpoch: number | undefined, n: number) {
    const closure = computeClosure(root, { user: { name: "app", uid: 10001, gid: 10001 } });
    const epochOf = layerEpochs(sourceDateEpoch ?? 0, baseCreated);
    const trees = await writeLayerTrees(closure, { image: root }, join(work, `layers-${n}`), epochOf);
    const layers = await writeLayers(trees, epochOf, join(work, "store"), join(work, `app-store-${n}`));
    return Object.fromEntries(layers.map((l) => [l.role, l.blob.digest]));
  }

  it("gives one runtime layer digest whatever SOURCE_DATE_EPOCH (before the base, after it, none); the app layer follows it", async () => {
    const before = await digests(1_600_000_000, 1); // 2020, before the base
    const after = await digests(1_750_000_000, 2); // 2025-06, after the base
    const none = await digests(undefined, 3);
    expect(after.runtime).toBe(before.runtime);
    expect(none.runtime).toBe(before.runtime);
    expect(new Set([before.app, after.app, none.app]).size).toBe(3);
    // The system and dependencies layers: SOURCE_DATE_EPOCH, never past the base's time.
    expect(after.dependencies).not.toBe(before.dependencies);
    expect(await digests(1_760_000_000, 4)).toMatchObject({
      dependencies: after.dependencies,
      system: after.system,
    });
  });
});

describe("minimalConfig", () => {
  const built = {
    architecture: "arm64",
    os: "linux",
    config: {
      Env: [
        "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG=C.UTF-8",
        "PYTHON_VERSION=3.12.4",
        "PYTHONUNBUFFERED=1",
        "PYTHONDONTWRITEBYTECODE=1",
        "PORT=8000",
        "GREETING=a=b",
      ],
      User: "app",
      WorkingDir: "/srv/app",
      Labels: { "org.opencontainers.image.title": "demo", "io.buildah.version": "1.33" },
      ExposedPorts: { "8000/tcp": {} },
      StopSignal: "SIGINT",
    },
  };
  // Regression: only the labels and exposed ports carried over; the Dockerfile's ENV was lost.
  it("carries the built image's Env, WorkingDir, StopSignal, labels and ports; the command and app user are its own", () => {
    const c = minimalConfig(built, {
      cmd: ["gunicorn", "app:app"],
      user: { name: "app", uid: 10001, gid: 10001 },
      env: { PORT: "8080" },
    });
    expect(c).toEqual({
      cmd: ["gunicorn", "app:app"],
      env: [
        "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONUNBUFFERED=1",
        "LANG=C.UTF-8",
        "PYTHON_VERSION=3.12.4",
        "PYTHONDONTWRITEBYTECODE=1",
        "PORT=8080",
        "GREETING=a=b",
      ],
      workingDir: "/srv/app",
      user: "10001:10001",
      labels: { "org.opencontainers.image.title": "demo", "io.slimwheel.runtime": "minimal" },
      exposedPorts: ["8000/tcp"],
      stopSignal: "SIGINT",
      architecture: "arm64",
      os: "linux",
    });
  });
  // Regression: buildah builds OCI-format images, which drop the Dockerfile's HEALTHCHECK.
  it("keeps the plan's health check, written as Docker's Healthcheck of the image config", () => {
    const check = ["python3", "-c", "import http.client"];
    const c = minimalConfig(built, { cmd: ["gunicorn", "app:app"], healthcheck: check });
    expect(c.healthcheck).toEqual(check);
    const json = imageConfig(undefined, { layers: [], config: c, created: 0, store: "/nowhere" }, 0);
    expect(json.config?.Healthcheck).toEqual({ Test: ["CMD", ...check] });
    const none = imageConfig(
      undefined,
      { layers: [], config: minimalConfig(built, { cmd: ["x"] }), created: 0, store: "/nowhere" },
      0,
    );
    expect(JSON.stringify(none)).not.toContain("Healthcheck");
  });
  it("falls back to a PATH, /app and no stop signal when the built image says nothing", () => {
    const c = minimalConfig({}, { cmd: ["python3"], options: { debugShell: true } });
    expect(c.env).toEqual(["PATH=/usr/local/bin:/usr/bin:/bin", "PYTHONUNBUFFERED=1", "LANG=C.UTF-8"]);
    expect(c.workingDir).toBe("/app");
    expect(c.stopSignal).toBeUndefined();
    expect(c.user).toBeUndefined();
    expect(c.labels).toEqual({
      "io.slimwheel.runtime": "minimal",
      "io.slimwheel.debug-shell": "/bin/busybox sh (busybox-static)",
    });
  });
});

describe("the layer cache's merged tree", () => {
  it("stays when its stamp is the layers', and is replaced — its bytecode cache seeded anew — when the same key holds others", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slimwheel-rootfs-"));
    try {
      const layer = (name: string, content: string) => {
        const d = join(dir, name, "usr", "lib");
        mkdirSync(join(d, "__pycache__"), { recursive: true });
        writeFileSync(join(d, "mod.py"), content);
        // Valid for the source as the tree has it (mtime: the layer's epoch, 0 here), then a stale one.
        writeFileSync(join(d, "__pycache__", "mod.cpython-311.pyc"), pycHeader(0, 0, content.length));
        writeFileSync(join(d, "old.py"), "x");
        writeFileSync(join(d, "__pycache__", "old.cpython-311.pyc"), pycHeader(0, 7, 1));
        return [{ role: "dependencies" as const, dir: join(dir, name) }];
      };
      const dest = join(dir, "rootfs", "KEY");
      const cache = join(dest, ".slimwheel-pycache");
      const seeded = join(cache, "usr", "lib", "mod.cpython-311.pyc");
      mkdirSync(join(dir, "rootfs"));
      const epoch = () => 0;
      await writeRootfs(layer("one", "v1"), dest, epoch, treeStamp(["sha256:1"]));
      expect(readFileSync(join(dest, "usr", "lib", "mod.py"), "utf8")).toBe("v1");
      expect(await readTreeStamp(dest)).toBe(treeStamp(["sha256:1"]));
      // The proofs' cache starts with the tree's valid bytecode, linked; the stale one is left out.
      expect(statSync(seeded).ino).toBe(
        statSync(join(dest, "usr", "lib", "__pycache__", "mod.cpython-311.pyc")).ino,
      );
      expect(existsSync(join(cache, "usr", "lib", "old.cpython-311.pyc"))).toBe(false);
      expect(statSync(join(cache, "usr")).mode & 0o7777).toBe(0o1777);
      writeFileSync(join(cache, "usr", "lib", "compiled.cpython-311.pyc"), "by a proof");
      // An earlier slimwheel's cache beside the tree goes when the tree is written again.
      mkdirSync(`${dest}.pycache`);
      // The same layers: the tree there is this one (a build may be proving in it), its cache too.
      await writeRootfs(layer("two", "v2"), dest, epoch, treeStamp(["sha256:1"]));
      expect(readFileSync(join(dest, "usr", "lib", "mod.py"), "utf8")).toBe("v1");
      expect(existsSync(join(cache, "usr", "lib", "compiled.cpython-311.pyc"))).toBe(true);
      // Other layers under the same key: replaced, with the bytecode compiled from the old files gone.
      await writeRootfs(layer("three", "v3"), dest, epoch, treeStamp(["sha256:2"]));
      expect(readFileSync(join(dest, "usr", "lib", "mod.py"), "utf8")).toBe("v3");
      expect(await readTreeStamp(dest)).toBe(treeStamp(["sha256:2"]));
      expect(existsSync(join(cache, "usr", "lib", "compiled.cpython-311.pyc"))).toBe(false);
      expect(statSync(seeded).ino).toBe(
        statSync(join(dest, "usr", "lib", "__pycache__", "mod.cpython-311.pyc")).ino,
      );
      expect(statSync(cache).mode & 0o7777).toBe(0o1777);
      expect(readdirSync(join(dir, "rootfs")).sort()).toEqual(["KEY", "KEY.layers"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
