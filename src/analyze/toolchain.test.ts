import { describe, expect, it } from "vitest";
import { isToolchainPath } from "./toolchain.js";

describe("isToolchainPath", () => {
  it.each([
    "usr/bin/gcc-12",
    "usr/bin/x86_64-linux-gnu-gcc-12",
    "usr/bin/x86_64-linux-gnu-ld.bfd",
    "usr/include/python3.11/Python.h",
    "usr/local/include/python3.12/Python.h",
    "usr/lib/gcc/x86_64-linux-gnu/12/cc1",
    "usr/libexec/gcc/x86_64-linux-gnu/12/cc1plus",
    "usr/lib/x86_64-linux-gnu/libpython3.11.a",
    "./usr/bin/cpp",
  ])("counts %s", (p) => expect(isToolchainPath(p)).toBe(true));
  it.each([
    "usr/bin/python3.11",
    "usr/lib/x86_64-linux-gnu/libpq.so.5.15",
    "usr/local/lib/python3.11/dist-packages/psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so",
    "usr/share/doc/gcc-12-base/copyright",
    "usr/bin/ldd",
    "app/include/notes.txt",
  ])("leaves %s alone", (p) => expect(isToolchainPath(p)).toBe(false));
});
