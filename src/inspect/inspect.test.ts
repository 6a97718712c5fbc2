import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FixtureImage,
  writeDockerArchive,
  writeOciArchive,
  writeOciLayout,
} from "../../test/helpers/oci-image.js";
import { runCli } from "../cli/testing.js";
import { openImageSource, parseImageRef } from "../oci/ref.js";
import { failures, parseFailOn } from "./format.js";
import { type InspectReport, inspectImage } from "./inspect.js";

const ROOT = join(import.meta.dirname, "..", "..");
const schema = JSON.parse(await readFile(join(ROOT, "schema", "inspect.schema.json"), "utf8"));
const validate = new Ajv({ allErrors: true }).compile(schema);

const KB = 1024;
const base = (extra: FixtureImage["layers"][number]["entries"] = []): FixtureImage["layers"][number] => ({
  createdBy: "ADD rootfs.tar / # debian",
  entries: [
    { path: "bin", type: "dir" },
    { path: "bin/bash", size: 50 * KB, mode: 0o755 },
    { path: "bin/sh", type: "symlink", target: "bash" },
    { path: "lib/x86_64-linux-gnu/libc.so.6", size: 20 * KB },
    { path: "usr/local/bin/python3.12", size: 30 * KB, mode: 0o755 },
    { path: "usr/local/bin/python3", type: "symlink", target: "python3.12" },
    { path: "tmp", type: "dir", mode: 0o1777 },
    ...extra,
  ],
});

const GCC_FILES = [
  { path: "usr/bin/gcc-12", size: 300 * KB },
  { path: "usr/lib/gcc/x86_64-linux-gnu/12/cc1", size: 900 * KB },
  { path: "usr/lib/gcc/x86_64-linux-gnu/12/crtbegin.o", size: 3 * KB },
];

const gccImage: FixtureImage = {
  user: "app",
  layers: [
    base(),
    {
      createdBy: "/bin/sh -c apt-get install -y gcc",
      emptyBefore: ["/bin/sh -c #(nop)  ENV PIP_NO_CACHE_DIR=1", "/bin/sh -c #(nop)  WORKDIR /app"],
      entries: GCC_FILES,
    },
    {
      createdBy: "/bin/sh -c apt-get purge -y gcc",
      emptyBefore: ["/bin/sh -c #(nop)  LABEL a=b"],
      entries: [
        { path: "usr/bin/gcc-12", type: "whiteout" },
        { path: "usr/lib/gcc", type: "whiteout" },
      ],
    },
  ],
};

let tmp: string;
const inspect = async (ref: string) => inspectImage(await openImageSource(parseImageRef(ref, tmp)));
const layout = async (name: string, image: FixtureImage) => {
  await writeOciLayout(join(tmp, name), image);
  return inspect(`oci:${join(tmp, name)}`);
};
const finding = (r: InspectReport, id: string) => r.findings.find((f) => f.id === id);

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "sw-inspect-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("inspect: waste", () => {
  it("counts gcc installed in layer 1 and deleted in layer 2 once, in layer 1, and equals the squash saving", async () => {
    const r = await layout("gcc", gccImage);
    const gccBytes = (300 + 900 + 3) * KB;
    expect(r.waste.bytes).toBe(gccBytes);
    expect(r.layers.map((l) => l.wastedBytes)).toEqual([0, gccBytes, 0]);
    expect(r.waste.top[0]).toEqual({
      path: "/usr/lib/gcc/x86_64-linux-gnu/12/cc1",
      bytes: 900 * KB,
      writtenIn: 1,
      removedIn: 2,
      how: "deleted",
    });
    expect(r.layers[2]).toMatchObject({ removed: 3, whiteouts: 2, added: 0 });
    // history: empty_layer entries are skipped when matching instructions to layers
    expect(r.layers.map((l) => l.createdBy)).toEqual([
      "ADD rootfs.tar / # debian",
      "/bin/sh -c apt-get install -y gcc",
      "/bin/sh -c apt-get purge -y gcc",
    ]);
    expect(finding(r, "compiler")).toBeUndefined();

    // The squash: the same final files in one layer. What it saves is the waste.
    const squashed = await layout("gcc-squashed", { user: "app", layers: [base()] });
    expect(squashed.totals.writtenBytes).toBe(r.totals.finalBytes);
    expect(r.totals.writtenBytes - squashed.totals.writtenBytes).toBe(r.waste.bytes);
    expect(squashed.waste.bytes).toBe(0);
  });

  it("reports an overwritten file as waste of the layer that first wrote it", async () => {
    const r = await layout("overwrite", {
      user: "1000",
      layers: [
        base([{ path: "app/data.bin", size: 100 * KB }]),
        { createdBy: "COPY data.bin /app/", entries: [{ path: "app/data.bin", size: 40 * KB }] },
      ],
    });
    expect(r.waste).toMatchObject({ bytes: 100 * KB, files: 1 });
    expect(r.waste.top).toEqual([
      { path: "/app/data.bin", bytes: 100 * KB, writtenIn: 0, removedIn: 1, how: "overwritten" },
    ]);
    expect(r.layers[1]).toMatchObject({ changed: 1, added: 0, wastedBytes: 0 });
    expect(r.layers[0]!.wastedBytes).toBe(100 * KB);
  });
});

describe("inspect: findings", () => {
  it("flags gcc left in the image, with its bytes", async () => {
    const r = await layout("gcc-kept", { user: "app", layers: [base(), { entries: GCC_FILES }] });
    expect(finding(r, "compiler")).toMatchObject({ bytes: (300 + 900 + 3) * KB, count: 3, removable: true });
  });

  it("flags wheels stored twice and the pip cache", async () => {
    const r = await layout("wheels", {
      user: "app",
      layers: [
        base(),
        {
          createdBy: "COPY --from=builder /wheels /wheels",
          entries: [
            { path: "wheels/numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl", size: 200 * KB },
            // The interpreter's bundled wheels (venv installs pip from them) are not stored twice.
            { path: "usr/share/python-wheels/pip-23.0.1-py3-none-any.whl", size: 50 * KB },
            { path: "usr/local/lib/python3.12/ensurepip/_bundled/pip-24.0-py3-none-any.whl", size: 50 * KB },
          ],
        },
        {
          createdBy: "RUN pip install /wheels/*.whl",
          entries: [
            { path: "usr/local/lib/python3.12/site-packages/numpy/__init__.py", size: 150 * KB },
            { path: "root/.cache/pip/http-v2/a/b/c", size: 60 * KB },
          ],
        },
      ],
    });
    expect(finding(r, "wheel-files")).toMatchObject({
      bytes: 200 * KB,
      count: 1,
      paths: ["/wheels/numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl"],
    });
    expect(finding(r, "pip-cache")).toMatchObject({ bytes: 60 * KB, count: 1 });
    expect(r.totals.findingsBytes).toBe(260 * KB);
    expect(r.totals.usefulBytes).toBe(r.totals.finalBytes - 260 * KB);
    expect(r.totals.estimatedBytes).toBe(r.totals.uncompressedBytes - 260 * KB);
    expect(finding(r, "foreign-site-packages")).toBeUndefined();
  });

  it("flags an image that runs as root (unset, root, 0:0) and not one with a user", async () => {
    for (const user of ["", "root", "0:0"]) {
      const r = await layout(`root-${user || "unset"}`, { user, layers: [base()] });
      expect(finding(r, "root"), user).toMatchObject({ bytes: 0, removable: false });
    }
    const ok = await layout("user", { user: "10001:10001", layers: [base()] });
    expect(finding(ok, "root")).toBeUndefined();
  });

  it("flags a venv whose pyvenv.cfg home has no interpreter, not one whose home has it", async () => {
    const venv = (home: string) => ({
      createdBy: "COPY --from=builder /opt/venv /opt/venv",
      entries: [
        {
          path: "opt/venv/pyvenv.cfg",
          body: `home = ${home}\ninclude-system-site-packages = false\nversion = 3.12.4\n`,
        },
        { path: "opt/venv/bin/python3", type: "symlink" as const, target: `${home}/python3` },
        { path: "opt/venv/lib/python3.12/site-packages/flask/__init__.py", size: 10 * KB },
      ],
    });
    const broken = await layout("venv-broken", { user: "app", layers: [base(), venv("/usr/bin")] });
    expect(finding(broken, "venv-missing-interpreter")).toMatchObject({
      count: 1,
      bytes:
        10 * KB +
        Buffer.byteLength("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.12.4\n"),
      paths: ["/opt/venv/pyvenv.cfg (home = /usr/bin)"],
    });
    const fine = await layout("venv-fine", { user: "app", layers: [base(), venv("/usr/local/bin")] });
    expect(finding(fine, "venv-missing-interpreter")).toBeUndefined();
  });

  it("flags glibc extension modules in a musl image only", async () => {
    const so = "usr/local/lib/python3.12/site-packages/_speedups.cpython-312-x86_64-linux-gnu.so";
    const musl = await layout("musl", {
      user: "app",
      layers: [
        {
          entries: [
            { path: "lib/ld-musl-x86_64.so.1", size: 10 * KB },
            { path: "usr/local/bin/python3.12", size: 30 * KB },
            { path: so, size: 70 * KB },
            {
              path: "usr/local/lib/python3.12/site-packages/_ok.cpython-312-x86_64-linux-musl.so",
              size: 5 * KB,
            },
          ],
        },
      ],
    });
    expect(musl.libc).toBe("musl");
    expect(finding(musl, "glibc-in-musl")).toMatchObject({ bytes: 70 * KB, count: 1, paths: [`/${so}`] });
    const glibc = await layout("glibc", { user: "app", layers: [base([{ path: so, size: 70 * KB }])] });
    expect(glibc.libc).toBe("glibc");
    expect(finding(glibc, "glibc-in-musl")).toBeUndefined();
  });

  it("flags docs inside site-packages, and files the non-root app user owns outside /tmp and home", async () => {
    const sp = "usr/local/lib/python3.12/site-packages";
    const r = await layout("docs-and-owner", {
      user: "10001:10001",
      layers: [
        base([
          { path: `${sp}/pkg/__init__.py`, size: 1 * KB },
          { path: `${sp}/pkg/docs/index.rst`, size: 7 * KB },
          { path: "app/app.py", size: 2 * KB, uid: 10001 },
          { path: "tmp/scratch", size: 1 * KB, uid: 10001 },
          { path: "app/settings.py", size: 1 * KB },
        ]),
      ],
    });
    expect(finding(r, "docs-in-site-packages")).toMatchObject({ bytes: 7 * KB, count: 1 });
    expect(finding(r, "app-writable")).toMatchObject({ count: 1, paths: ["/app/app.py"] });
    const root = await layout("owner-root", {
      user: "",
      layers: [base([{ path: "app/app.py", size: 2 * KB, uid: 10001 }])],
    });
    expect(finding(root, "app-writable")).toBeUndefined();
  });

  it("flags caches, orphan bytecode, tests, foreign site-packages and the system findings", async () => {
    const sp = "usr/local/lib/python3.12/site-packages";
    const r = await layout("kitchen-sink", {
      user: "",
      layers: [
        base([
          { path: "usr/bin/dpkg", size: 5 * KB },
          { path: "usr/bin/apt", size: 2 * KB },
          { path: "bin/dash", size: 3 * KB },
          { path: "usr/bin/passwd", size: 4 * KB, mode: 0o4755 },
          { path: "var/tmp", type: "dir", mode: 0o777 },
          { path: "etc/app.conf", size: 1 * KB, mode: 0o666 },
          { path: "usr/include/zlib.h", size: 8 * KB },
          { path: "var/lib/apt/lists/deb_dists_bookworm_InRelease", size: 40 * KB },
          { path: "var/lib/apt/lists/lock", size: 0 },
          { path: "var/cache/apt/archives/gcc_12_amd64.deb", size: 30 * KB },
        ]),
        {
          entries: [
            { path: `${sp}/pkg/__init__.py`, size: 1 * KB },
            { path: `${sp}/pkg/__pycache__/__init__.cpython-312.pyc`, size: 1 * KB },
            { path: `${sp}/pkg/__pycache__/gone.cpython-312.pyc`, size: 6 * KB },
            // a sourceless directory by design: no .py at all, not flagged
            { path: `${sp}/sourceless/__pycache__/mod.cpython-312.pyc`, size: 2 * KB },
            { path: `${sp}/pkg/tests/test_a.py`, size: 9 * KB },
            { path: `${sp}/other/test/data.json`, size: 3 * KB },
            { path: "usr/lib/python3.11/site-packages/old/__init__.py", size: 11 * KB },
            { path: "root/.cache/uv/archive-v0/x.so", size: 12 * KB },
            { path: "root/.cache/pypoetry/cache/y", size: 13 * KB },
            { path: `${sp}/pip/__init__.py`, size: 1 * KB },
            { path: "usr/local/bin/pip3", size: 1 * KB },
          ],
        },
      ],
    });
    const ids = r.findings.map((f) => f.id);
    expect(ids).toEqual([
      "uv-cache",
      "poetry-cache",
      "orphan-pyc",
      "tests-in-site-packages",
      "foreign-site-packages",
      "headers",
      "apt-lists",
      "deb-cache",
      "shell",
      "package-manager",
      "setuid",
      "world-writable",
      "root",
    ]);
    expect(finding(r, "orphan-pyc")).toMatchObject({ bytes: 6 * KB, count: 1 });
    expect(finding(r, "tests-in-site-packages")).toMatchObject({ bytes: 12 * KB, count: 2 });
    expect(finding(r, "foreign-site-packages")).toMatchObject({ bytes: 11 * KB, count: 1 });
    expect(finding(r, "apt-lists")).toMatchObject({ bytes: 40 * KB });
    expect(finding(r, "deb-cache")).toMatchObject({ bytes: 30 * KB, count: 1 });
    expect(finding(r, "shell")).toMatchObject({ count: 3 }); // bash, sh, dash
    expect(finding(r, "package-manager")?.count).toBe(3); // dpkg, apt, pip3
    expect(finding(r, "setuid")).toMatchObject({ count: 1, paths: ["/usr/bin/passwd"] });
    expect([...(finding(r, "world-writable")?.paths ?? [])].sort()).toEqual(["/etc/app.conf", "/var/tmp"]);
    expect(r.interpreters).toEqual(["3.12"]);
    const removable = (6 + 12 + 11 + 12 + 13 + 8 + 40 + 30) * KB;
    expect(r.totals.findingsBytes).toBe(removable);
    expect(r.totals.efficiency).toBeCloseTo(
      (r.totals.finalBytes - removable) / r.totals.uncompressedBytes,
      10,
    );
  });
});

describe("inspect: sources", () => {
  it("reads the docker-archive and oci-archive forms of one image into the same report", async () => {
    await writeDockerArchive(join(tmp, "gcc.docker.tar"), gccImage);
    await writeOciArchive(join(tmp, "gcc.oci.tar"), gccImage);
    const d = await inspect(`docker-archive:${join(tmp, "gcc.docker.tar")}`);
    const o = await inspect(`oci-archive:${join(tmp, "gcc.oci.tar")}`);
    const dir = await inspect(`oci:${join(tmp, "gcc.oci.tar.d")}`).catch((e: unknown) => e);
    expect(dir).toMatchObject({ code: "input" });
    const strip = (r: InspectReport) => ({
      ...r,
      ref: undefined,
      digest: undefined,
      configDigest: undefined,
      layers: r.layers.map((l) => ({ ...l, digest: undefined })),
    });
    expect(strip(d)).toEqual(strip(o));
    expect(d.layers.map((l) => l.diffId)).toEqual(o.layers.map((l) => l.diffId));
    expect(d.waste.bytes).toBe((300 + 900 + 3) * KB);
    // gzip layers in a docker archive too (newer Dockers)
    await writeDockerArchive(join(tmp, "gcc.docker-gz.tar"), gccImage, { gzip: true });
    const gz = await inspect(`docker-archive:${join(tmp, "gcc.docker-gz.tar")}`);
    expect(strip(gz)).toEqual(strip(o));
  });

  it("selects an image by tag in an OCI layout and names the tags it has", async () => {
    await writeOciLayout(join(tmp, "tagged"), { user: "app", layers: [base()] }, "v1");
    const r = await inspect(`oci:${join(tmp, "tagged")}:v1`);
    expect(r.layers).toHaveLength(1);
    await expect(inspect(`oci:${join(tmp, "tagged")}:v2`)).rejects.toMatchObject({
      code: "not-found",
      hint: "tags there: v1",
    });
  });
});

describe("slimwheel inspect (CLI)", () => {
  it("prints an aligned report in MB", async () => {
    await writeOciLayout(join(tmp, "cli"), gccImage);
    const r = await runCli(["inspect", `oci:${join(tmp, "cli")}`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Waste: 1\.2 MB in 3 files/);
    expect(r.stdout).toMatch(/^1 +1\.2 MB +1\.2 MB +1\.2 MB +3 +0 +0 +RUN apt-get install -y gcc$/m);
    expect(r.stdout).toMatch(/Efficiency: \d+\.\d% useful/);
  });

  it("--json validates against schema/inspect.schema.json, and the schema can fail", async () => {
    for (const name of ["cli", "kitchen-sink", "venv-broken", "musl"]) {
      const r = await runCli(["--json", "inspect", `oci:${join(tmp, name)}`]);
      const doc = JSON.parse(r.stdout);
      expect(validate(doc), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(doc.schemaVersion).toBe(1);
    }
    const doc = JSON.parse((await runCli(["--json", "inspect", `oci:${join(tmp, "cli")}`])).stdout);
    expect(validate({ ...doc, findings: [{ id: "not-a-finding" }] })).toBe(false);
    expect(validate({ ...doc, extra: 1 })).toBe(false);
  });

  it("--html writes a self-contained report", async () => {
    const out = join(tmp, "report.html");
    const r = await runCli(["inspect", `oci:${join(tmp, "kitchen-sink")}`, "--html", out], {
      env: { SOURCE_DATE_EPOCH: "0" },
    });
    expect(r.code).toBe(0);
    const html = await readFile(out, "utf8");
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain("slimwheel inspect: oci:");
    expect(html).toContain("1970-01-01T00:00:00.000Z");
    expect(html).toContain("<code>orphan-pyc</code>");
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it("--fail-on exits 1 when a rule matches, 0 otherwise, 2 on a bad rule", async () => {
    const ref = `oci:${join(tmp, "cli")}`;
    const waste = await runCli(["inspect", ref, "--fail-on", "waste>1MB"]);
    expect(waste.code).toBe(1);
    expect(waste.stderr).toMatch(/--fail-on matched: waste 1\.2 MB > 1\.0 MB/);
    expect((await runCli(["inspect", ref, "--fail-on", "waste>2MB,compiler,root"])).code).toBe(0);
    const root = await runCli(["--json", "inspect", `oci:${join(tmp, "kitchen-sink")}`, "--fail-on", "root"]);
    expect(root.code).toBe(1);
    expect(JSON.parse(root.stdout).findings.at(-1).id).toBe("root");
    const bad = await runCli(["inspect", ref, "--fail-on", "waste>5XB,rooot"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown size unit/);
    expect(() => parseFailOn("rooot")).toThrow(/unknown rule "rooot"/);
    expect(parseFailOn("waste>1.5GB, compiler")).toEqual([
      { kind: "waste", bytes: 1.5 * 1024 ** 3 },
      { kind: "finding", id: "compiler" },
    ]);
  });

  it("reports bad references and files as errors, not stack traces", async () => {
    const missing = await runCli(["inspect", `oci:${join(tmp, "nope")}`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: .*nope does not exist\nhint: /);
    const kind = await runCli(["inspect", "registry.example/x:1"]);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toMatch(/unsupported image reference/);
    await writeFile(join(tmp, "junk.tar"), "this is not a tar archive".repeat(40));
    const junk = await runCli(["inspect", `docker-archive:${join(tmp, "junk.tar")}`]);
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/junk\.tar is not a tar archive\nhint: /);
    const notDocker = await runCli(["inspect", `docker-archive:${join(tmp, "gcc.oci.tar")}`]);
    expect(notDocker.code).toBe(2);
    expect(notDocker.stderr).toMatch(/has no manifest\.json: not a docker archive/);
  });

  it("failures() lists nothing for a clean image", async () => {
    const r = await inspect(`oci:${join(tmp, "user")}`);
    expect(failures(r, parseFailOn("waste>0,root,compiler,pip-cache"))).toEqual([]);
  });
});

describe("inspect: corrupt layers", () => {
  it("a truncated gzip layer is a clear input error naming the layer, not a crash", async () => {
    const dir = join(tmp, "truncated");
    await writeOciLayout(dir, { user: "app", layers: [base(), { entries: GCC_FILES }] });
    const { readdir, stat, truncate } = await import("node:fs/promises");
    const blobs = join(dir, "blobs", "sha256");
    const sized = await Promise.all(
      (await readdir(blobs)).map(async (f) => ({ f, size: (await stat(join(blobs, f))).size })),
    );
    const biggest = sized.sort((a, b) => b.size - a.size)[0]!;
    await truncate(join(blobs, biggest.f), Math.floor(biggest.size / 2));
    await expect(inspect(`oci:${dir}`)).rejects.toMatchObject({
      name: "SlimwheelError",
      message: expect.stringContaining(`sha256:${biggest.f}`),
    });
  });
});
