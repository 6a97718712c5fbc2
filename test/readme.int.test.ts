/**
 * The README's commands, run as written against the test bed (issue 14: every command in the
 * README is exercised). Each ```sh block not marked `skip-test` runs with bash -euo pipefail, in
 * order, in a copy of examples/flask-app (the user's project), with `slimwheel` on PATH (today's
 * dist/) and only these substitutions, which map the user's world onto the test bed's:
 *
 * - the image name `myapp` → a name unique to this test; `registry.example.com` → the test bed's
 *   registry;
 * - `docker …` is Debian's client (the test bed installs docker.io; a newer client without buildx
 *   refuses BuildKit) with DOCKER_BUILDKIT=1, talking to the test bed's dockerd (DOCKER_HOST);
 *   `docker build` gets `--network host` and the test bed's
 *   images and index as build arguments; `docker run -p 8000:8000` becomes `--network host` with
 *   a free PORT (that dockerd has no bridge), and `localhost:8000` that port;
 * - `slimwheel build` and `compare` get `--engine buildah` and the test bed's images and index;
 *   `compare` builds the `slim` strategy only (cold, cached and warm: 220 s here on 2 busy cores;
 *   the whole table takes far longer than a test may: `npm run demo` runs it).
 */
import { chmod, cp, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";

const ROOT = join(import.meta.dirname, "..");
const NAME = `readme-int-${process.pid}`;
const DOCKER = process.env.SLIMWHEEL_DOCKER_CLI ?? "/usr/bin/docker";

/** The ```sh blocks of a Markdown text, with whether they are marked `skip-test`. */
function shellBlocks(markdown: string): { code: string; skip: boolean; line: number }[] {
  const blocks: { code: string; skip: boolean; line: number }[] = [];
  for (const m of markdown.matchAll(/^```sh([^\n]*)\n([\s\S]*?)^```$/gm))
    blocks.push({
      code: m[2]!,
      skip: /\bskip-test\b/.test(m[1]!),
      line: markdown.slice(0, m.index).split("\n").length,
    });
  return blocks;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

function substitute(code: string, tb: Endpoints, port: number): string {
  const images = `--builder-image ${tb.images.builder.pinned} --runtime-image ${tb.images.runtime.pinned} --index-url ${tb.index.url}`;
  const buildArgs = [
    `BUILDER_IMAGE=${tb.images.builder.pinned}`,
    `RUNTIME_IMAGE=${tb.images.runtime.pinned}`,
    `PIP_INDEX_URL=${tb.index.url}`,
  ]
    .map((a) => `--build-arg ${a}`)
    .join(" ");
  return code
    .replace(/\bmyapp\b/g, NAME)
    .replace(/\bregistry\.example\.com\b/g, tb.registry.host)
    .replace(/^docker build /gm, `docker build --network host ${buildArgs} `)
    .replace(/-p 8000:8000/g, `--network host -e PORT=${port}`)
    .replace(/localhost:8000/g, `127.0.0.1:${port}`)
    .replace(/^slimwheel compare /gm, `slimwheel compare --strategies slim `)
    .replace(/^slimwheel (build|compare) /gm, `slimwheel $1 --engine buildah ${images} `);
}

let tb: Endpoints;
let project: string;
let bin: string;
const readme = await readFile(join(ROOT, "README.md"), "utf8");
const runnable = shellBlocks(readme).filter((b) => !b.skip);

beforeAll(async () => {
  tb = await readEndpoints();
  if (!tb.docker) throw new Error("the test bed has no Docker engine: npm run testbed -- up --docker");
  project = await mkdtemp(join(tmpdir(), "readme-int-"));
  await cp(join(ROOT, "examples", "flask-app"), project, { recursive: true });
  bin = await mkdtemp(join(tmpdir(), "readme-int-bin-"));
  await writeFile(
    join(bin, "slimwheel"),
    `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, "dist", "cli", "main.js")}" "$@"\n`,
  );
  await chmod(join(bin, "slimwheel"), 0o755);
  await writeFile(join(bin, "docker"), `#!/bin/sh\nDOCKER_BUILDKIT=1 exec ${DOCKER} "$@"\n`);
  await chmod(join(bin, "docker"), 0o755);
});

afterAll(async () => {
  const env = { ...process.env, DOCKER_HOST: tb?.docker?.host };
  await exec(DOCKER, ["rm", "-f", NAME], { env, allowFailure: true }).catch(() => undefined);
  await exec(DOCKER, ["rmi", "-f", NAME], { env, allowFailure: true }).catch(() => undefined);
  await exec("sh", ["-c", `buildah rmi -f $(buildah images -q --filter reference='*${NAME}*') 2>/dev/null`], {
    env: process.env,
    allowFailure: true,
  }).catch(() => undefined);
  for (const d of [project, bin]) if (d) await rm(d, { recursive: true, force: true });
});

describe("the README's commands", () => {
  it("show the real-world path: plan, dockerfile, docker build/run, build --push, compare --html", () => {
    const all = runnable.map((b) => b.code).join("\n");
    for (const command of [
      /^slimwheel plan\b/m,
      /^slimwheel dockerfile\b/m,
      /^slimwheel dockerfile --check\b/m,
      /^docker build /m,
      /^docker run /m,
      /^slimwheel build .*--push\b/m,
      /^slimwheel compare .*--html /m,
    ])
      expect(all).toMatch(command);
    // The contributor's two commands (.ci/run runs them) stay in the README, not run here.
    const skipped = shellBlocks(readme)
      .filter((b) => b.skip)
      .map((b) => b.code)
      .join("\n");
    expect(skipped).toMatch(/^npm ci && npm run demo$/m);
    expect(skipped).toMatch(/^npm ci && npm test$/m);
  });

  for (const block of runnable) {
    it(`run as written (README.md:${block.line}: ${block.code.split("\n")[0]})`, {
      timeout: 600_000,
    }, async () => {
      const port = await freePort();
      const script = substitute(block.code, tb, port);
      const r = await exec("bash", ["-euo", "pipefail", "-c", script], {
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH ?? ""}`,
          DOCKER_HOST: tb.docker!.host,
          NO_COLOR: "1",
        },
        cwd: project,
        allowFailure: true,
        doing: `README.md:${block.line}`,
      });
      expect(r.code, `${script}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(0);
      // What each step must have done, beyond exiting 0.
      if (/^slimwheel plan\b/m.test(block.code)) expect(r.stdout).toMatch(/gunicorn/);
      if (/^slimwheel dockerfile\b/m.test(block.code)) {
        expect(await readFile(join(project, "Dockerfile"), "utf8")).toMatch(/^# Generated by slimwheel/);
        expect(r.stdout).toMatch(/are current/);
      }
      if (/^curl /m.test(block.code)) expect(r.stdout).toMatch(/^200$/m);
      if (/^slimwheel build /m.test(block.code)) {
        expect(r.stderr).toMatch(/using the committed Dockerfile/);
        expect(r.stdout + r.stderr).toMatch(new RegExp(`${tb.registry.host}/${NAME}:1`));
      }
      if (/^slimwheel compare /m.test(block.code)) {
        expect((await stat(join(project, "compare.html"))).size).toBeGreaterThan(1000);
        expect(r.stdout).toMatch(/^slim +\d+(\.\d+)? MB/m);
      }
    });
  }
});
