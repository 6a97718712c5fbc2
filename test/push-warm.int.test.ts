/**
 * Push of a warm rebuild (issue 11): examples/flask-app (a clone) built and pushed with `--push`
 * to a private registry, one line of its app code changed and committed, rebuilt and pushed
 * again. The second push uploads only the app layer and the config: the blob uploads are counted
 * at a logging proxy in front of the registry (POST …/blobs/uploads/ starts, PUT …?digest= ends),
 * filtered by this test's repository name.
 */
import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { cliBuild, cloneExample, removeImages } from "./helpers/cold-build.js";
import {
  FaultProxy,
  type RegistryProcess,
  registryMissing,
  startRegistry,
} from "./helpers/local-registry.js";

const tb = await readEndpoints();
const missing = registryMissing();
if (missing) console.log(`push-warm test skipped: ${missing}`);
const REPO = "slimwheel-push-warm-int/flask-app";

describe.skipIf(missing !== undefined)("push of a warm rebuild", () => {
  let work: string;
  let reg: RegistryProcess;
  let proxy: FaultProxy;
  const tags: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "slimwheel-push-warm-"));
    reg = await startRegistry(join(work, "registry"));
    proxy = await new FaultProxy(reg.host).start();
  });

  afterAll(async () => {
    await removeImages(...tags);
    await proxy?.stop();
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const uploads = (from: number) => {
    const mine = proxy.log.slice(from).filter((l) => l.url.startsWith(`/v2/${REPO}/blobs/uploads/`));
    return {
      started: mine.filter((l) => l.method === "POST").length,
      finished: mine.filter((l) => l.method === "PUT" && /[?&]digest=/.test(l.url)),
    };
  };

  it("uploads only the app layer and the config", async () => {
    const clone = await cloneExample("flask-app", join(work, "clone"));
    const build = async (n: number) => {
      const tag = `${proxy.host}/${REPO}:${n}`;
      tags.push(tag);
      const from = proxy.log.length;
      // --sbom none: the SBOM attached as a referrer is a blob of its own, not the image's.
      const b = await cliBuild(tb, clone, work, tag, [
        "--push",
        "--sbom",
        "none",
        "--no-import-test",
        "--no-boot-test",
      ]);
      return { ...b, up: uploads(from), tag };
    };
    const first = await build(1);
    expect(first.up.started, "the first push uploads every blob").toBeGreaterThanOrEqual(5);
    // One line of app code changed, and committed (a new SOURCE_DATE_EPOCH, as in CI).
    await appendFile(join(clone, "app.py"), "\nVERSION = 2\n");
    const commit = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "one line"];
    await exec("git", commit, {
      cwd: clone,
      env: { ...process.env, GIT_COMMITTER_DATE: "@1704200000 +0000", GIT_AUTHOR_DATE: "@1704200000 +0000" },
    });
    const second = await build(2);
    const pushed = (second.json.pushed ?? []) as { ref: string; digest: string }[];
    expect(pushed.map((p) => p.ref)).toEqual([second.tag]);
    // What the second push uploaded: the manifest names which blob each upload was.
    const res = await fetch(`http://${reg.host}/v2/${REPO}/manifests/${pushed[0]!.digest}`, {
      headers: {
        accept:
          "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
      },
    });
    expect(res.status).toBe(200);
    const manifest = (await res.json()) as { config: { digest: string }; layers: { digest: string }[] };
    const names = new Map<string, string>([
      [manifest.config.digest, "config"],
      ...manifest.layers.map((l, i) => [l.digest, `layer ${i}`] as [string, string]),
    ]);
    const uploaded = second.up.finished.map((l) => {
      const d = decodeURIComponent(/[?&]digest=([^&]+)/.exec(l.url)![1]!);
      return names.get(d) ?? d;
    });
    console.log(
      `first push: ${first.up.started} uploads; second push: ${second.up.started} (${uploaded.join(", ")}); ` +
        `builds ${first.seconds.toFixed(0)} s, ${second.seconds.toFixed(0)} s`,
    );
    expect(uploaded.sort()).toEqual(["config", `layer ${manifest.layers.length - 1}`]);
    expect(second.up.started).toBe(2);
  });
});
