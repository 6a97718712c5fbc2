import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { parseElf } from "./elf.js";

/** Host libraries as real inputs: libpython links libc, libssl has a SONAME. */
function hostLib(re: RegExp): string | undefined {
  for (const dir of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/x86_64-linux-gnu"]) {
    try {
      const f = readdirSync(dir).find((n) => re.test(n));
      if (f) return `${dir}/${f}`;
    } catch {
      /* not this architecture */
    }
  }
  return undefined;
}

describe("parseElf", () => {
  it("reads DT_NEEDED, SONAME and the libc of a real shared library", () => {
    const path = hostLib(/^libssl\.so\.3$/)!;
    const info = parseElf(readFileSync(path), path);
    expect(info.class).toBe(64);
    expect(info.soname).toBe("libssl.so.3");
    expect(info.needed).toContain("libcrypto.so.3");
    expect(info.needed).toContain("libc.so.6");
    expect(info.libc).toBe("glibc");
  });

  it("reads an executable", () => {
    const info = parseElf(readFileSync("/bin/ls"), "/bin/ls");
    expect(info.needed).toContain("libc.so.6");
    expect(["x86_64", "aarch64"]).toContain(info.machine);
  });

  it("rejects non-ELF and truncated input with a typed error", () => {
    expect(() => parseElf(Buffer.from("hello"), "x.so")).toThrow(
      "x.so is not a valid ELF file: no ELF magic",
    );
    const real = readFileSync("/bin/ls");
    expect(() => parseElf(real.subarray(0, 40), "t.so")).toThrow(/truncated/);
  });

  it("never throws anything but the typed error on corrupted ELF files (fuzz)", () => {
    const real = readFileSync(hostLib(/^libssl\.so\.3$/)!).subarray(0, 64 * 1024);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: real.length - 1 }), fc.nat({ max: 255 })), { maxLength: 30 }),
        fc.nat({ max: real.length }),
        (edits, cut) => {
          const b = Buffer.from(real.subarray(0, Math.max(cut, 64)));
          for (const [i, v] of edits) if (i < b.length && i >= 4) b[i] = v;
          try {
            parseElf(b, "fuzz.so");
          } catch (e) {
            if (!isSlimwheelError(e)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
