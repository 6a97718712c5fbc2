/**
 * Secrets in every artifact (issue 13): an index password given in `--index-url`
 * (`http://deploy:TOKEN@127.0.0.1:…/simple/`) never appears in anything a real build, push or
 * compare produces — the progress lines and `--verbose` log, `--json`, the `--output oci:` image
 * (every blob, layers decompressed: files, config, labels, history), the SBOM written beside it,
 * the image pushed to the test bed's registry with its SBOM referrer (copied back by skopeo), the
 * engine's own image (`buildah inspect`), `compare`'s JSON and HTML reports. A file holding the token in a layer, compressed, is found by the
 * same search (the search can fail).
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const TOKEN = "s3cr3tTOKEN-7d1c";
const tb = await readEndpoints();
const URL = tb.index.url.replace("://", `://deploy:${TOKEN}@`);
const TAG = "localhost/slimwheel-secrets-artifacts/flask:t";
const PUSHED = `${tb.registry.host}/slimwheel-secrets-artifacts/flask:t`;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "slimwheel-secrets-artifacts-"));
});
afterAll(async () => {
  await exec("buildah", ["rmi", "-f", TAG, PUSHED], { env: process.env, allowFailure: true });
  await rm(work, { recursive: true, force: true });
});

/** Every regular file under `dir`, as bytes: gzip blobs decompressed (layers are searched by content). */
async function contents(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const bytes = await readFile(p);
        out.set(p, bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes);
      }
    }
  };
  await walk(dir);
  return out;
}

/** The files under `dir` whose (decompressed) bytes hold the token. */
async function holding(dir: string): Promise<string[]> {
  const hits: string[] = [];
  for (const [p, bytes] of await contents(dir)) if (bytes.includes(TOKEN)) hits.push(p);
  return hits;
}

async function cli(args: string[], cwd: string) {
  const r = await exec(process.execPath, [CLI, ...args], { env: process.env, cwd, allowFailure: true });
  return { ...r, all: r.stdout + r.stderr };
}

const sources = () => [
  ...["--engine", "buildah", "--builder-image", tb.images.builder.pinned],
  ...["--runtime-image", tb.images.runtime.pinned, "--index-url", URL],
];

describe("an index password in --index-url", () => {
  it("is in no output, layer, config, label, SBOM, pushed blob or report", async () => {
    const app = join(work, "app");
    await cp(join(ROOT, "examples", "flask-app"), app, { recursive: true });

    // The search finds the token in a gzipped layer (so a clean result means something).
    const probe = join(work, "probe");
    await mkdir(probe);
    await writeFile(join(probe, "blob"), gzipSync(Buffer.from(`tar bytes … ${TOKEN} …`)));
    expect(await holding(probe)).toEqual([join(probe, "blob")]);

    // 1. A cold build, verbose, to an OCI layout with its SBOM, pushed with its SBOM referrer.
    const out = join(work, "out");
    const first = await cli(
      // --no-layer-cache: through the engine, the path that hands the index to pip.
      [
        "--verbose",
        "build",
        app,
        "-t",
        PUSHED,
        ...sources(),
        "--no-layer-cache",
        "--push",
        "--output",
        `oci:${out}`,
      ],
      work,
    );
    expect(first.code, first.all.slice(-3000)).toBe(0);
    expect(first.all).toMatch(/built \S+ \(sha256:\w+\) with buildah/); // not the engine-free path
    expect(first.all).not.toContain(TOKEN);
    expect(await holding(out), "the OCI layout").toEqual([]);
    const sbom = await readFile(`${out}.cdx.json`, "utf8");
    expect(sbom).toContain("pkg:pypi/flask@");
    expect(sbom).not.toContain(TOKEN);
    const inspect = await exec("buildah", ["inspect", "--type", "image", PUSHED], { env: process.env });
    expect(inspect.stdout).toContain("org.opencontainers.image.base.digest");
    expect(inspect.stdout).not.toContain(TOKEN);

    // What the registry got: the image and every referrer/fallback tag of the repository.
    const tags = await exec(
      "skopeo",
      ["list-tags", "--tls-verify=false", `docker://${PUSHED.replace(/:t$/, "")}`],
      { env: process.env },
    );
    const tagList = (JSON.parse(tags.stdout) as { Tags: string[] }).Tags;
    expect(tagList.length, tags.stdout).toBeGreaterThan(1); // the image and its SBOM referrer
    for (const t of tagList) {
      const dest = join(work, "pulled", t.replace(/[^\w.-]/g, "_"));
      const ref = `docker://${PUSHED.replace(/:t$/, "")}:${t}`;
      const copy = await exec("skopeo", ["copy", "--src-tls-verify=false", ref, `oci:${dest}`], {
        env: process.env,
        allowFailure: true,
      });
      // skopeo copies images; an artifact manifest it cannot copy is read raw instead.
      if (copy.code !== 0) {
        const raw = await exec("skopeo", ["inspect", "--raw", "--tls-verify=false", ref], {
          env: process.env,
        });
        expect(raw.stdout, t).not.toContain(TOKEN);
        continue;
      }
      expect(await holding(dest), `pushed ${t}`).toEqual([]);
    }

    // 2. A one-line change, rebuilt with --json (the engine-free path).
    await writeFile(join(app, "app.py"), `${await readFile(join(app, "app.py"), "utf8")}\n# changed\n`);
    const out2 = join(work, "out2");
    const second = await cli(
      ["--json", "build", app, "-t", TAG, ...sources(), "--output", `oci:${out2}`],
      work,
    );
    expect(second.code, second.all.slice(-3000)).toBe(0);
    expect(second.all).not.toContain(TOKEN);
    expect(await holding(out2), "the rebuilt OCI layout").toEqual([]);

    // 3. compare, with its JSON and HTML reports.
    const html = join(work, "report.html");
    const cmp = await cli(
      ["--json", "compare", app, ...sources(), "--strategies", "slim", "--html", html],
      work,
    );
    expect(cmp.code, cmp.all.slice(-3000)).toBe(0);
    expect(cmp.all).not.toContain(TOKEN);
    const report = await readFile(html, "utf8");
    expect(report).toContain("slim");
    expect(report).not.toContain(TOKEN);
  });
});
