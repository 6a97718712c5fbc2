/**
 * The minimal runtime, proven on real images (test bed, buildah): today's CLI builds the
 * `slimwheel` image of the four examples; the closure of its root (runtime layer from the base image
 * alone) is assembled FROM scratch, one layer per role; the minimal image passes the import test
 * and the app's smoke script run by Python (no shell), has no shell, apt/dpkg or compiler, and its
 * dpkg records list the OS packages it kept (libpq5 for django-postgres).
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildMinimalImage, mountImage, runInImage } from "../src/minimize/buildah.js";
import { type Closure, parseStatus } from "../src/minimize/index.js";
import { IMPORT_TEST_SCRIPT } from "../src/sysdeps/import-test.js";
import { exec } from "../src/util/exec.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";
import { buildExampleWithCli } from "./helpers/cli-build.js";

const ROOT = join(import.meta.dirname, "..");
const EXAMPLES = {
  "flask-app": ["gunicorn", "app:app"],
  "django-postgres": ["gunicorn", "mysite.wsgi"],
  "c-extension": ["python3", "smoke.py"],
  "data-tools": ["python3", "report.py"],
} as const;
type Example = keyof typeof EXAMPLES;

let tb: Endpoints;
const built = new Map<Example, { closure: Closure; tag: string }>();

beforeAll(async () => {
  tb = await readEndpoints();
  await exec("npm", ["run", "build"], { cwd: ROOT, env: process.env, doing: "building the CLI" });
  await exec("buildah", ["pull", "--tls-verify=false", tb.images.runtime.pinned], {
    env: process.env,
    doing: "pulling the runtime",
  });
  for (const [ex, cmd] of Object.entries(EXAMPLES) as [Example, readonly string[]][]) {
    const slim = `localhost/slimwheel-int/minimal-src-${ex}:slimwheel`;
    await buildExampleWithCli(tb, ex, slim);
    const tag = `localhost/slimwheel-int/minimal-${ex}:minimal`;
    const minimal = await buildMinimalImage(
      {
        image: slim,
        base: tb.images.runtime.pinned,
        tag,
        cmd,
        user: { name: "app", uid: 10001, gid: 10001 },
        env: { PORT: "8000" },
      },
      process.env,
    );
    await minimal.done();
    built.set(ex, { closure: minimal.closure, tag });
  }
});

async function inImage<T>(tag: string, f: (root: string) => Promise<T>): Promise<T> {
  const m = await mountImage(tag, process.env);
  try {
    return await f(m.root);
  } finally {
    await m.release();
  }
}

describe.each(Object.keys(EXAMPLES) as Example[])("the minimal image of %s", (ex) => {
  it("passes the import test of every installed top-level module", async () => {
    const { tag } = built.get(ex)!;
    const r = await runInImage(tag, ["python3", "-c", IMPORT_TEST_SCRIPT], process.env);
    expect(r.stderr).toBe("");
    const result = JSON.parse(r.stdout) as { checked: unknown[]; failures: unknown[] };
    expect(result.failures).toEqual([]);
    expect(result.checked.length).toBeGreaterThanOrEqual(2);
  });

  it("runs the app's smoke script with Python (no shell)", async () => {
    const r = await runInImage(built.get(ex)!.tag, ["python3", "/app/smoke.py"], process.env);
    expect(r.code, r.stderr).toBe(0);
  });

  it("has no shell, no apt/dpkg, no compiler; every needed library resolved", async () => {
    const { tag, closure } = built.get(ex)!;
    expect(closure.unresolved).toEqual([]);
    const present = await inImage(tag, async (root) => {
      const { lstat } = await import("node:fs/promises");
      const out: string[] = [];
      for (const p of [
        "bin/sh",
        "usr/bin/sh",
        "usr/bin/bash",
        "usr/bin/dash",
        "usr/bin/apt",
        "usr/bin/apt-get",
        "usr/bin/dpkg",
        "usr/bin/gcc",
        "usr/bin/cc",
        "usr/bin/ls",
      ]) {
        if (
          await lstat(join(root, p)).then(
            () => true,
            () => false,
          )
        )
          out.push(p);
      }
      return out;
    });
    expect(present).toEqual([]);
    const config = JSON.parse(
      (await exec("buildah", ["inspect", "--type", "image", tag], { env: process.env })).stdout,
    );
    expect(config.OCIv1.config.Cmd).toEqual([...EXAMPLES[ex]]);
    expect(config.OCIv1.rootfs.diff_ids.length).toBeGreaterThanOrEqual(3);
  });

  it("keeps dpkg records of the OS packages whose files remain", async () => {
    const { tag, closure } = built.get(ex)!;
    const status = await inImage(tag, async (root) =>
      (await import("node:fs/promises")).readFile(join(root, "var/lib/dpkg/status"), "utf8"),
    );
    const pkgs = parseStatus(status).map((s) => s.package);
    expect(pkgs).toEqual(expect.arrayContaining(["libc6", "libssl3"]));
    expect(pkgs).not.toContain("dpkg");
    expect(pkgs).not.toContain("apt");
    if (ex === "django-postgres") expect(pkgs).toContain("libpq5");
    expect(pkgs.sort()).toEqual([...closure.packages].sort());
  });
});

describe("the runtime layer", () => {
  it("depends only on the base image: two projects share its digest", async () => {
    const diffIds = async (tag: string) =>
      JSON.parse((await exec("buildah", ["inspect", "--type", "image", tag], { env: process.env })).stdout)
        .OCIv1.rootfs.diff_ids as string[];
    const flask = await diffIds(built.get("flask-app")!.tag);
    const django = await diffIds(built.get("django-postgres")!.tag);
    expect(flask![0]).toBe(django![0]);
    expect(flask!.at(-1)).not.toBe(django!.at(-1));
  });
});
