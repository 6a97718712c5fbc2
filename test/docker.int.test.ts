import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";

const tb = await readEndpoints();

// The Docker engine is started only with `testbed up --docker` (as .ci/run does).
describe.runIf(tb.docker)("the test bed's Docker engine", () => {
  it("builds FROM the test-bed registry with BuildKit and runs the result", async () => {
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
      await exec("/usr/bin/docker", ["rmi", tag], { env });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
