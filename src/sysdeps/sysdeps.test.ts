import { describe, expect, it } from "vitest";
import { parseWheelFilename } from "../python/wheel-filename.js";
import { checkAbi, wheelLibc } from "./abi.js";
import type { ArtifactScan, ExtensionModule } from "./artifacts.js";
import { externalLibraries } from "./artifacts.js";
import type { ElfInfo } from "./elf.js";
import { KNOWN, knownNeeds } from "./known-packages.js";
import { describeChain, parseDpkgSearch, parseLdconfig } from "./resolve.js";

const elf = (needed: string[], libc: ElfInfo["libc"] = "glibc", soname?: string): ElfInfo => ({
  class: 64,
  machine: "x86_64",
  needed,
  rpath: [],
  runpath: [],
  libc,
  soname,
});
const ext = (file: string, e: ElfInfo, wheel?: string): ExtensionModule => ({
  file,
  elf: e,
  wheel,
});

describe("external libraries of the built artifacts", () => {
  it("drops the C library and what the wheels bundle (auditwheel .libs)", () => {
    const scan: ArtifactScan = {
      wheels: [],
      bundled: new Set(["libopenblas64_p-r0-15028c96.3.21.so"]),
      extensions: [
        ext("psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so", elf(["libpq.so.5", "libc.so.6"])),
        ext(
          "numpy/core/_multiarray_umath.so",
          elf(["libopenblas64_p-r0-15028c96.3.21.so", "libm.so.6", "libc.so.6"]),
        ),
        ext(
          "lxml/etree.so",
          elf(["libxml2.so.2", "libxslt.so.1", "libpthread.so.0", "ld-linux-x86-64.so.2"]),
        ),
        ext("lxml/objectify.so", elf(["libxml2.so.2"])),
      ],
    };
    const libs = externalLibraries(scan);
    expect([...libs.keys()]).toEqual(["libpq.so.5", "libxml2.so.2", "libxslt.so.1"]);
    expect(libs.get("libxml2.so.2")!.map((e) => e.file)).toEqual(["lxml/etree.so", "lxml/objectify.so"]);
  });

  it("explains each package with its chain", () => {
    expect(describeChain("libpq5", "libpq.so.5", [ext("psycopg2/_psycopg.so", elf([]))])).toBe(
      "libpq5 ← libpq.so.5 ← psycopg2/_psycopg.so",
    );
  });
});

describe("reading the images' answers", () => {
  it("parses ldconfig -p", () => {
    const out =
      "3 libs found in cache `/etc/ld.so.cache'\n\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n\tlibssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3\n";
    expect([...parseLdconfig(out)]).toEqual(["libz.so.1", "libssl.so.3"]);
  });
  it("parses dpkg -S answers, with architecture qualifiers and diversions", () => {
    const out =
      "libpq.so.5\tlibpq5:amd64: /usr/lib/x86_64-linux-gnu/libpq.so.5\nlibfoo.so.1\t\nlibxml2.so.2\tlibxml2:amd64: /usr/lib/x86_64-linux-gnu/libxml2.so.2\n";
    expect(Object.fromEntries(parseDpkgSearch(out))).toEqual({
      "libpq.so.5": "libpq5",
      "libxml2.so.2": "libxml2",
    });
  });
});

describe("the glibc/musl check", () => {
  const scan = (wheels: string[], exts: ExtensionModule[] = []): ArtifactScan => ({
    wheels: wheels.map(parseWheelFilename),
    extensions: exts,
    bundled: new Set(),
  });
  it("knows the libc of platform tags", () => {
    expect(wheelLibc("manylinux_2_17_x86_64")).toBe("glibc");
    expect(wheelLibc("manylinux2014_aarch64")).toBe("glibc");
    expect(wheelLibc("musllinux_1_1_x86_64")).toBe("musl");
    expect(wheelLibc("any")).toBeUndefined();
    expect(wheelLibc("linux_x86_64")).toBeUndefined();
  });
  it("refuses glibc wheels for a musl image, with the explanation and the fix", () => {
    const s = scan([
      "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
      "flask-2.2.2-py3-none-any.whl",
    ]);
    expect(() => checkAbi(s, "musl", "glibc")).toThrow(
      /final image uses musl, but numpy 1\.26\.4 \(manylinux_2_17_x86_64\) is built for glibc/,
    );
    try {
      checkAbi(s, "musl", "glibc");
    } catch (e) {
      expect((e as { hint: string }).hint).toMatch(/Alpine \(musl\) builder/);
    }
  });
  it("refuses wheels built on a glibc builder (linux_*) and ELF files linking glibc for musl; musl wheels for glibc", () => {
    expect(() => checkAbi(scan(["x-1.0-cp311-cp311-linux_x86_64.whl"]), "musl", "glibc")).toThrow(
      /built for glibc/,
    );
    expect(() => checkAbi(scan([], [ext("a/b.so", elf(["libc.so.6"]))]), "musl", "glibc")).toThrow(
      /links glibc/,
    );
    expect(() => checkAbi(scan(["y-2.0-cp311-cp311-musllinux_1_1_x86_64.whl"]), "glibc", "glibc")).toThrow(
      /built for musl/,
    );
  });
  it("accepts matching and pure wheels", () => {
    expect(() =>
      checkAbi(
        scan(
          ["flask-2.2.2-py3-none-any.whl", "x-1.0-cp311-cp311-linux_x86_64.whl"],
          [ext("a.so", elf(["libc.so.6"]))],
        ),
        "glibc",
        "glibc",
      ),
    ).not.toThrow();
  });
});

describe("the known-packages table", () => {
  it("has Debian and Alpine build and runtime lists for every entry, and notes for wrappers", () => {
    for (const [name, e] of Object.entries(KNOWN.packages)) {
      for (const distro of ["debian", "alpine"] as const) {
        expect(Array.isArray(e[distro].build), `${name}.${distro}.build`).toBe(true);
        expect(Array.isArray(e[distro].runtime), `${name}.${distro}.runtime`).toBe(true);
        for (const p of [...e[distro].build, ...e[distro].runtime])
          expect(p).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
      }
      if (e.kind === "wrapper") expect(e.note, name).toBeTruthy();
      expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    }
    for (const p of [
      "psycopg2",
      "mysqlclient",
      "lxml",
      "pillow",
      "pyyaml",
      "cffi",
      "cryptography",
      "python-ldap",
      "pycairo",
      "gdal",
      "shapely",
      "pyproj",
      "numpy",
      "scipy",
      "pdf2image",
      "pytesseract",
      "ffmpeg-python",
      "moviepy",
      "graphviz",
      "wand",
      "python-magic",
      "weasyprint",
    ]) {
      expect(KNOWN.packages[p], p).toBeDefined();
    }
  });
  it("gives build packages for compiled projects and runtime packages with reasons, wrappers included", () => {
    const n = knownNeeds(["psycopg2", "pdf2image", "flask"], "debian");
    expect(n.build.map((b) => b.package)).toEqual(["libpq-dev"]);
    expect(n.runtime.map((r) => `${r.package}: ${r.why}`)).toEqual([
      "libpq5: psycopg2's extension links it",
      "poppler-utils: pdf2image calls pdftoppm and pdfinfo",
    ]);
    expect(knownNeeds(["django"], "debian").runtime).toEqual([]);
    expect(
      knownNeeds(["django"], "debian", new Set(["django.contrib.gis"])).runtime.map((r) => r.package),
    ).toContain("libgdal32");
  });
});
