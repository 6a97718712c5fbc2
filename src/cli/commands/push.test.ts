import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeLayerBlob } from "../../oci/blob.js";
import { FakeRegistry } from "../../oci/fake-registry.testutil.js";
import { assembleImage, writeOciLayout } from "../../oci/image-writer.js";
import { layerTar } from "../../oci/tar-writer.js";
import { runCli } from "../testing.js";

let dir: string;
let layout: string;
let digest: string;
const registries: FakeRegistry[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "push-cli-"));
  const store = join(dir, "store");
  const blob = await writeLayerBlob(
    layerTar([{ path: "app/main.py", type: "file", content: Buffer.from("print(2)\n") }], {
      sourceDateEpoch: 0,
    }),
    store,
  );
  const image = await assembleImage({ layers: [{ blob }], config: { cmd: ["python"] }, created: 0, store });
  layout = join(dir, "layout");
  digest = await writeOciLayout(image, layout, { refName: "1.0" });
});
afterAll(async () => {
  for (const r of registries) await r.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("slimwheel push", { timeout: 30_000 }, () => {
  it("pushes an OCI layout, prints each blob's fate with --json, and skips what the registry has", async () => {
    const reg = await new FakeRegistry().start();
    registries.push(reg);
    const env = { HOME: dir };
    const first = await runCli(
      ["--json", "push", `oci:${layout}`, `${reg.host}/demo/cli:1.0`, "--insecure"],
      { env },
    );
    expect(first.stderr).not.toMatch(/error/);
    expect(first.code).toBe(0);
    const doc = JSON.parse(first.stdout);
    expect(doc).toMatchObject({ ref: `${reg.host}/demo/cli:1.0`, digest });
    expect(doc.blobs.map((b: { status: string }) => b.status)).toEqual(["uploaded", "uploaded"]);
    const second = await runCli(
      ["--json", "push", `oci:${layout}:1.0`, `${reg.host}/demo/cli:1.0`, "--insecure"],
      {
        env,
      },
    );
    expect(JSON.parse(second.stdout).blobs.map((b: { status: string }) => b.status)).toEqual([
      "skipped",
      "skipped",
    ]);
    const text = await runCli(["push", `oci:${layout}`, `${reg.host}/demo/cli:2`, "--insecure"], { env });
    expect(text.stdout).toContain(`pushed ${reg.host}/demo/cli:2@${digest}`);
  });

  it("exits 2 on bad arguments and 1 with a docker login hint when the registry wants credentials", async () => {
    const bad = await runCli(["push", layout, "127.0.0.1:1/x:1"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not oci:DIR");
    const badRef = await runCli(["push", `oci:${layout}`, "127.0.0.1:1/X"]);
    expect(badRef.code).toBe(2);
    expect(badRef.stderr).toContain("not an image reference");
    const missing = await runCli(["push", `oci:${join(dir, "nope")}`, "127.0.0.1:1/x:1"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("index.json");
    const reg = await new FakeRegistry({ auth: { scheme: "basic", user: "u", password: "p" } }).start();
    registries.push(reg);
    await writeFile(join(dir, "config.json"), "{}");
    const denied = await runCli(["push", `oci:${layout}`, `${reg.host}/private:1`, "--insecure"], {
      env: { DOCKER_CONFIG: dir },
    });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(`registry ${reg.host} requires authentication for private`);
    expect(denied.stderr).toContain(`hint: run \`docker login ${reg.host}\``);
  });
});
