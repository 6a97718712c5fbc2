/**
 * `inspect` on references that need fetching: a registry image (the test bed's registry, pulled by
 * slimwheel's own client, every blob's digest checked) and a local engine image (buildah's
 * containers-storage): the same files, the same findings.
 */
import { describe, expect, it } from "vitest";
import { inspectImage } from "../src/inspect/index.js";
import { openAnyImage } from "../src/inspect/open.js";
import { exec } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { testContext } from "./helpers/testbed-context.js";

const tb = await readEndpoints();
const ctx = testContext();

async function inspectRef(ref: string) {
  const opened = await openAnyImage(ref, ctx);
  try {
    return await inspectImage(opened.source);
  } finally {
    await opened.close();
  }
}

describe("inspect beyond files", () => {
  it("reads a registry image and the same image from buildah's storage alike", async () => {
    const pinned = tb.images.runtime.pinned;
    const fromRegistry = await inspectRef(`docker://${pinned}`);
    expect(fromRegistry.digest).toBe(pinned.split("@")[1]);
    expect(fromRegistry.findings.map((f) => f.id)).toEqual(
      expect.arrayContaining(["shell", "package-manager"]),
    );
    await exec("buildah", ["pull", "--quiet", "--tls-verify=false", pinned], { env: process.env });
    const fromStorage = await inspectRef(`containers-storage:${pinned}`);
    expect(fromStorage.totals.finalBytes).toBe(fromRegistry.totals.finalBytes);
    expect(fromStorage.findings.map((f) => f.id)).toEqual(fromRegistry.findings.map((f) => f.id));
  });

  it("names a registry image that does not exist", async () => {
    const missing = `${tb.registry.host}/slimwheel-testbed/no-such-image:nope`;
    await expect(inspectRef(`docker://${missing}`)).rejects.toThrow(/no-such-image/);
  });
});
