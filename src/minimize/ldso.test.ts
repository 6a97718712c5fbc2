import { describe, expect, it } from "vitest";
import type { ElfInfo } from "../sysdeps/elf.js";
import { defaultDirs, expandTokens, searchPath } from "./ldso.js";

const elf = (over: Partial<ElfInfo>): ElfInfo => ({
  class: 64,
  machine: "x86_64",
  needed: [],
  rpath: [],
  runpath: [],
  libc: "glibc",
  ...over,
});

describe("library search order", () => {
  it("expands $ORIGIN, ${ORIGIN}, $LIB and $PLATFORM", () => {
    expect(expandTokens("$ORIGIN/../lib", "/opt/app/bin", "x86_64")).toEqual(["/opt/app/lib"]);
    expect(expandTokens("${ORIGIN}/x", "/o", "x86_64")).toEqual(["/o/x"]);
    expect(expandTokens("/opt/$LIB", "/o", "x86_64")).toEqual([
      "/opt/lib/x86_64-linux-gnu",
      "/opt/lib64",
      "/opt/lib",
    ]);
    expect(expandTokens("/p/$PLATFORM", "/o", "aarch64")).toEqual(["/p/aarch64"]);
  });

  it("uses DT_RPATH (own, then inherited) only without DT_RUNPATH, then RUNPATH, ld.so.conf, defaults", () => {
    const base = { name: "libx.so.1", origin: "/o", inheritedRpath: ["/inh"], confDirs: ["/conf"] };
    expect(searchPath({ ...base, elf: elf({ rpath: ["/rp"] }) })).toEqual(
      ["/rp", "/inh", "/conf", ...defaultDirs("x86_64")].map((d) => `${d}/libx.so.1`),
    );
    expect(searchPath({ ...base, elf: elf({ rpath: ["/rp"], runpath: ["$ORIGIN/r"] }) })).toEqual(
      ["/o/r", "/conf", ...defaultDirs("x86_64")].map((d) => `${d}/libx.so.1`),
    );
    expect(searchPath({ ...base, name: "/abs/libz.so", elf: elf({}) })).toEqual(["/abs/libz.so"]);
  });

  it("knows the multiarch default directories", () => {
    expect(defaultDirs("aarch64").slice(0, 2)).toEqual([
      "/lib/aarch64-linux-gnu",
      "/usr/lib/aarch64-linux-gnu",
    ]);
    expect(defaultDirs("x86_64")).toContain("/usr/lib");
  });
});
