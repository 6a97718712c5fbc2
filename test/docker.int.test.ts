import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createEngine } from "../src/engines/index.js";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { testContext } from "./helpers/testbed-context.js";

const tb = await readEndpoints();

// The global setup starts the Docker engine; a test bed without one is a failure, never a skip.
describe("the test bed's Docker engine", () => {
  it("is running (global setup brings it up)", () => {
    if (!tb.docker)
      throw new Error(
        `the test bed at ${tb.dir} has no Docker engine: run the tests through vitest's integration project (its global setup runs \`testbed up --docker\`), or run \`npm run testbed -- up --docker\``,
      );
    expect(tb.docker.host).toMatch(/^unix:\/\//);
  });

  it("builds FROM the test-bed registry with BuildKit and runs the result", async () => {
    expect(tb.docker, "the test bed has no Docker engine (see the test above)").toBeDefined();
    const dir = await mkdtemp(join(tmpdir(), "slimwheel-docker-"));
    try {
      await writeFile(
        join(dir, "Dockerfile"),
        `FROM ${tb.images.runtime.pinned}\nRUN python -c "print('built by buildkit')" > /built.txt\nCMD ["cat", "/built.txt"]\n`,
      );
      const env = { ...process.env, DOCKER_HOST: tb.docker!.host, DOCKER_BUILDKIT: "1" };
      const tag = `slimwheel-int/docker-smoke:${process.pid}`;
      await exec("/usr/bin/docker", ["build", "--network", "host", "-t", tag, dir], { env });
      const r = await exec("/usr/bin/docker", ["run", "--rm", "--network", "none", tag], { env });
      expect(r.stdout.trim()).toBe("built by buildkit");

      // The docker engine writes the OCI formats too (docker save, converted by skopeo).
      const engine = createEngine("docker", env);
      const layout = join(dir, "oci");
      await engine.exportImage(tag, { kind: "oci-dir", path: layout }, testContext());
      expect(JSON.parse(await readFile(join(layout, "oci-layout"), "utf8"))).toEqual({
        imageLayoutVersion: "1.0.0",
      });
      const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as {
        manifests: { mediaType: string }[];
      };
      expect(index.manifests).toHaveLength(1);
      expect(index.manifests[0]!.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
      const archive = join(dir, "image-oci.tar");
      await engine.exportImage(tag, { kind: "oci-archive", path: archive }, testContext());
      expect((await stat(archive)).size).toBeGreaterThan(1000);
      await exec("/usr/bin/docker", ["rmi", tag], { env });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
