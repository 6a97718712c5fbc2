import { describe, expect, it } from "vitest";
import { listFilePackage, mergedUsrKey, parseStatus, trimStatus } from "./dpkg.js";

const STATUS = `Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9
Description: GNU C Library
 multi-line
 .
 description

Package: dash
Status: install ok installed
Version: 0.5.12-2

Package: libpq5
Status: install ok installed
Version: 15.5-0
`;

describe("dpkg records", () => {
  it("keeps only the named packages' stanzas, verbatim and in order", () => {
    const out = trimStatus(STATUS, new Set(["libpq5", "libc6"]));
    expect(parseStatus(out).map((s) => s.package)).toEqual(["libc6", "libpq5"]);
    expect(out).toContain(" multi-line\n .\n description\n\nPackage: libpq5");
    expect(out).not.toContain("dash");
    expect(trimStatus(STATUS, new Set())).toBe("");
  });

  it("aliases merged /usr paths and reads multiarch list names", () => {
    expect(mergedUsrKey("/usr/lib/x86_64-linux-gnu/libc.so.6")).toBe(
      mergedUsrKey("/lib/x86_64-linux-gnu/libc.so.6"),
    );
    expect(mergedUsrKey("/usr/bin/dash")).toBe("/bin/dash");
    expect(mergedUsrKey("/usr/share/doc/x")).toBe("/usr/share/doc/x");
    expect(mergedUsrKey("/usr/lib64/ld-linux-x86-64.so.2")).toBe("/lib64/ld-linux-x86-64.so.2");
    expect(listFilePackage("libc6:amd64.list")).toBe("libc6");
    expect(listFilePackage("libpq5.list")).toBe("libpq5");
    expect(listFilePackage("libpq5.md5sums")).toBeUndefined();
  });
});
