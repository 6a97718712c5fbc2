import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../cli/testing.js";
import { SlimwheelError } from "../errors.js";
import { parsePlatform, readBinfmtHandlers, runsPlatform } from "../oci/platform.js";
import { checkPlatforms, platformTag } from "./build-platforms.js";

const amd64Host = { host: parsePlatform("linux/amd64"), handlers: [] };
const EXAMPLE = join(import.meta.dirname, "..", "..", "examples", "flask-app");

async function refusal(p: Promise<unknown>): Promise<SlimwheelError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(SlimwheelError);
  expect((e as SlimwheelError).exitCode).toBe(2);
  return e as SlimwheelError;
}

describe("checkPlatforms", () => {
  const out = { output: { kind: "oci-dir" as const, path: "/tmp/x" }, tags: [] };

  it("accepts the host's platforms, and foreign ones when qemu's binfmt handler is there", async () => {
    expect(await checkPlatforms("linux/amd64", { tags: [] }, amd64Host)).toEqual([
      parsePlatform("linux/amd64"),
    ]);
    expect(
      await checkPlatforms("linux/amd64,linux/arm64", out, {
        ...amd64Host,
        handlers: [{ name: "qemu-aarch64" }],
      }),
    ).toHaveLength(2);
    expect(
      await checkPlatforms("linux/amd64,linux/arm64", out, { ...amd64Host, noEmulationCheck: true }),
    ).toHaveLength(2);
  });

  it("refuses a foreign platform without emulation, saying what to install", async () => {
    const e = await refusal(checkPlatforms("linux/amd64,linux/arm64", out, amd64Host));
    expect(e.message).toBe(
      "linux/arm64 needs emulation for RUN steps, and this linux/amd64 machine has none (no qemu handler in /proc/sys/fs/binfmt_misc): install qemu-user-static/binfmt-support",
    );
    expect(e.hint).toMatch(/apt-get install qemu-user-static binfmt-support/);
    expect(e.hint).toMatch(/--no-emulation-check/);
    // one foreign platform alone would fail in the middle of the build just the same
    expect((await refusal(checkPlatforms("linux/arm64", { tags: [] }, amd64Host))).message).toMatch(
      /^linux\/arm64 needs emulation/,
    );
    expect((await refusal(checkPlatforms("linux/arm64,linux/s390x", out, amd64Host))).message).toMatch(
      /^linux\/arm64 and linux\/s390x need emulation/,
    );
  });

  it("refuses an index with nowhere to go, a docker archive, and --push without a tag", async () => {
    const two = "linux/amd64,linux/arm64";
    expect((await refusal(checkPlatforms(two, { tags: ["a:1"] }, amd64Host))).hint).toMatch(
      /--output oci:DIR/,
    );
    const docker = await refusal(
      checkPlatforms(two, { tags: [], output: { kind: "docker-archive", path: "/tmp/a.tar" } }, amd64Host),
    );
    expect(docker.message).toMatch(/docker-archive:\/tmp\/a.tar cannot hold the image index of 2 platforms/);
    expect(docker.hint).toMatch(/oci-archive/);
    expect((await refusal(checkPlatforms(two, { tags: [], push: true }, amd64Host))).message).toMatch(
      /needs -t REF/,
    );
    // one platform into a docker archive is today's build
    expect(
      await checkPlatforms(
        "linux/amd64",
        { tags: [], output: { kind: "docker-archive", path: "/a.tar" } },
        amd64Host,
      ),
    ).toHaveLength(1);
  });
});

describe("platformTag", () => {
  it("gives each platform's local image a tag of its own", () => {
    expect(platformTag("127.0.0.1:5000/app:1.0", parsePlatform("linux/arm64"))).toBe(
      "127.0.0.1:5000/app:1.0-linux-arm64",
    );
    expect(platformTag("127.0.0.1:5000/app", parsePlatform("linux/arm/v7"))).toBe(
      "127.0.0.1:5000/app:latest-linux-arm-v7",
    );
  });
});

describe("slimwheel build --platform (refusals before any engine work)", () => {
  // No engine is reachable with an empty PATH: a refusal that came after engine work would be
  // "no engine found" (exit 1), not these usage errors (exit 2).
  const env = { PATH: "/nonexistent", HOME: "/nonexistent" };

  it("refuses a docker archive of several platforms and a malformed platform", async () => {
    const r = await runCli(
      ["build", EXAMPLE, "--platform", "linux/amd64,linux/arm64", "--output", "docker-archive:/tmp/x.tar"],
      { env },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot hold the image index of 2 platforms/);
    const bad = await runCli(
      ["build", EXAMPLE, "--platform", "linux/amd64,arm64", "--output", "oci:/tmp/x"],
      {
        env,
      },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--platform "arm64": not OS\/ARCH/);
  });

  it("refuses --sbom-file for several platforms (each platform's SBOM is a file of its own)", async () => {
    const r = await runCli(
      [
        "build",
        EXAMPLE,
        ...["--platform", "linux/amd64,linux/arm64", "--no-emulation-check"],
        ...["--output", "oci:/tmp/never-written-sbom", "--sbom-file", "/tmp/never-written.cdx.json"],
      ],
      { env },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--sbom-file is for one platform's image/);
    expect(existsSync("/tmp/never-written.cdx.json")).toBe(false);
  });

  it("refuses linux/arm64 with the emulation message when this machine has no qemu-aarch64 handler", async (t) => {
    const host = parsePlatform(process.arch === "x64" ? "linux/amd64" : "linux/arm64");
    const arm64 = parsePlatform("linux/arm64");
    if (host.architecture === "arm64" || runsPlatform(host, arm64, await readBinfmtHandlers()))
      t.skip("this machine runs arm64 programs (natively or through qemu): nothing to refuse");
    const r = await runCli(
      ["build", EXAMPLE, "--platform", "linux/amd64,linux/arm64", "--output", "oci:/tmp/never-written"],
      { env },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /linux\/arm64 needs emulation for RUN steps.*install qemu-user-static\/binfmt-support/,
    );
    expect(existsSync("/tmp/never-written")).toBe(false);
  });
});
