import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SlimwheelError } from "../errors.js";
import {
  formatPlatform,
  hostPlatform,
  parsePlatform,
  parsePlatforms,
  platformsNeedingEmulation,
  readBinfmtHandlers,
  runsPlatform,
} from "./platform.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function usageError(f: () => unknown): SlimwheelError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SlimwheelError);
    expect((e as SlimwheelError).exitCode).toBe(2);
    expect((e as SlimwheelError).hint).toBeTruthy();
    return e as SlimwheelError;
  }
  throw new Error("no error thrown");
}

describe("parsePlatform", () => {
  it("gives the image spec's os, architecture and variant, normalizing other spellings", () => {
    expect(parsePlatform("linux/amd64")).toEqual({ os: "linux", architecture: "amd64" });
    expect(parsePlatform("linux/x86_64")).toEqual({ os: "linux", architecture: "amd64" });
    expect(parsePlatform("linux/aarch64")).toEqual({ os: "linux", architecture: "arm64" });
    expect(parsePlatform("linux/arm64/v8")).toEqual({ os: "linux", architecture: "arm64" });
    expect(parsePlatform("linux/arm")).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(parsePlatform("linux/arm/v6")).toEqual({ os: "linux", architecture: "arm", variant: "v6" });
    expect(parsePlatform("Linux/ARM64")).toEqual({ os: "linux", architecture: "arm64" });
    expect(formatPlatform(parsePlatform("linux/armhf"))).toBe("linux/arm/v7");
  });

  it("refuses what is not a Linux platform it knows, as usage errors", () => {
    expect(usageError(() => parsePlatform("arm64")).message).toMatch(/not OS\/ARCH/);
    expect(usageError(() => parsePlatform("windows/amd64")).message).toMatch(/Linux images, not windows/);
    expect(usageError(() => parsePlatform("linux/sparc")).message).toMatch(/unknown architecture "sparc"/);
    expect(usageError(() => parsePlatform("linux/arm64/v7")).message).toMatch(/not a variant of arm64/);
    expect(usageError(() => parsePlatform("linux//")).message).toMatch(/not OS\/ARCH/);
  });

  it("reads a comma list, each platform once", () => {
    expect(parsePlatforms("linux/amd64, linux/arm64").map(formatPlatform)).toEqual([
      "linux/amd64",
      "linux/arm64",
    ]);
    expect(usageError(() => parsePlatforms("linux/arm64,linux/aarch64")).message).toMatch(
      /names linux\/arm64 twice/,
    );
    expect(usageError(() => parsePlatforms(" , ")).message).toMatch(/no platform/);
  });

  it("knows node's architectures", () => {
    expect(hostPlatform("x64")).toEqual({ os: "linux", architecture: "amd64" });
    expect(hostPlatform("arm64")).toEqual({ os: "linux", architecture: "arm64" });
  });
});

describe("emulation", () => {
  const amd64 = parsePlatform("linux/amd64");
  const arm64 = parsePlatform("linux/arm64");

  it("runs the host's platform natively, any other (its 32-bit one too) only through qemu's binfmt handler", () => {
    expect(runsPlatform(amd64, amd64, [])).toBe(true);
    // a 64-bit kernel without IA32 emulation (this project's test machines) runs no i386 program
    expect(runsPlatform(amd64, parsePlatform("linux/386"), [])).toBe(false);
    expect(runsPlatform(amd64, parsePlatform("linux/386"), [{ name: "qemu-i386" }])).toBe(true);
    expect(runsPlatform(amd64, arm64, [])).toBe(false);
    expect(runsPlatform(amd64, arm64, [{ name: "qemu-aarch64" }])).toBe(true);
    expect(
      runsPlatform(amd64, arm64, [{ name: "aarch64", interpreter: "/usr/bin/qemu-aarch64-static" }]),
    ).toBe(true);
    expect(runsPlatform(amd64, arm64, [{ name: "qemu-arm" }])).toBe(false);
    expect(runsPlatform(arm64, amd64, [{ name: "qemu-x86_64" }])).toBe(true);
    expect(
      platformsNeedingEmulation(
        amd64,
        [amd64, arm64, parsePlatform("linux/s390x")],
        [{ name: "qemu-s390x" }],
      ),
    ).toEqual([arm64]);
  });

  it("reads only the enabled handlers of a binfmt_misc directory, and none when it is absent", async () => {
    const dir = await mkdtemp(join(tmpdir(), "binfmt-"));
    dirs.push(dir);
    await writeFile(join(dir, "register"), "");
    await writeFile(join(dir, "status"), "enabled\n");
    await writeFile(
      join(dir, "qemu-aarch64"),
      "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c46\n",
    );
    await writeFile(join(dir, "qemu-arm"), "disabled\ninterpreter /usr/bin/qemu-arm-static\n");
    await mkdir(join(dir, "sub"));
    const handlers = await readBinfmtHandlers(dir);
    expect(handlers).toEqual([
      { name: "qemu-aarch64", interpreter: "/usr/libexec/qemu-binfmt/aarch64-binfmt-P" },
    ]);
    expect(runsPlatform(parsePlatform("linux/amd64"), parsePlatform("linux/arm64"), handlers)).toBe(true);
    expect(runsPlatform(parsePlatform("linux/amd64"), parsePlatform("linux/arm/v7"), handlers)).toBe(false);
    expect(await readBinfmtHandlers(join(dir, "absent"))).toEqual([]);
  });
});
