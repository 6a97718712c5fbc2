/**
 * The closure over a fixture root built on disk: tiny ELF objects compiled with gcc (RUNPATH with
 * $ORIGIN, DT_RPATH inherited by a dependency, an ld.so.conf include, symlink chains, merged /usr),
 * RECORDed distributions, a Debian-style stdlib and dpkg records.
 */
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { parseElf } from "../sysdeps/elf.js";
import { minimalClosure } from "./buildah.js";
import { assertResolved, type Closure, classifyDropped, computeClosure } from "./closure.js";
import { pycHeader } from "./pyc.testutil.js";
import { diskRoot, resolveIn } from "./rootfs.js";

const TRIPLET = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" }[process.arch as string];
const LDSO = { x64: "ld-linux-x86-64.so.2", arm64: "ld-linux-aarch64.so.1" }[process.arch as string];
const hasGcc = (() => {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
    return TRIPLET !== undefined;
  } catch {
    return false;
  }
})();

let root: string;
let closure: Closure;
const kept = (role?: string) =>
  new Set(closure.layers.filter((l) => !role || l.role === role).flatMap((l) => l.files.map((f) => f.path)));

function put(path: string, content: string | Buffer = "x\n", mode = 0o644) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content, { mode });
}
function link(path: string, target: string) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  symlinkSync(target, join(root, path));
}
function cc(out: string, src: string, args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "cc-"));
  writeFileSync(join(dir, "x.c"), src);
  mkdirSync(dirname(join(root, out)), { recursive: true });
  execFileSync("gcc", ["-o", join(root, out), join(dir, "x.c"), ...args], { stdio: "pipe" });
  rmSync(dir, { recursive: true });
}

beforeAll(() => {
  if (!hasGcc) return;
  root = mkdtempSync(join(tmpdir(), "minimize-root-"));
  const L = `/usr/lib/${TRIPLET}`;
  // Merged /usr: /lib and /lib64 are directory links.
  link("/lib", "usr/lib");
  link("/bin", "usr/bin");
  mkdirSync(join(root, L), { recursive: true });
  copyFileSync(`/lib/${TRIPLET}/libc.so.6`, join(root, L, "libc.so.6"));
  copyFileSync(`/lib/${TRIPLET}/${LDSO}`, join(root, L, LDSO!));
  if (process.arch === "x64") {
    link("/lib64", "usr/lib64");
    link(`/usr/lib64/${LDSO}`, `../lib/${TRIPLET}/${LDSO}`);
  }
  // libdep: found through the DT_RPATH of libpyx (old dtags), which a decoy in ld.so.conf must not win.
  cc("/usr/lib/deprpath/libdep.so.2", "int dep(void){return 2;}", [
    "-shared",
    "-fPIC",
    "-Wl,-soname,libdep.so.2",
  ]);
  cc("/usr/lib/decoy/libdep.so.2", "int dep(void){return 3;}", [
    "-shared",
    "-fPIC",
    "-Wl,-soname,libdep.so.2",
  ]);
  cc("/usr/lib/pyx/libpyx.so.1.0", "int dep(void); int pyx(void){return dep();}", [
    "-shared",
    "-fPIC",
    "-Wl,-soname,libpyx.so.1",
    "-Wl,--disable-new-dtags",
    "-Wl,-rpath,$ORIGIN/../deprpath",
    `-L${join(root, "usr/lib/deprpath")}`,
    "-l:libdep.so.2",
  ]);
  link("/usr/lib/pyx/libpyx.so.1", "libpyx.so.1.0");
  // Alternatives: the triplet dir links libq.so.1 to /etc/alternatives, to /usr/lib/alt; libq's
  // RUNPATH $ORIGIN means the directory of the link it was found by (glibc), where libr's link is.
  cc("/usr/lib/alt/libr.so.1", "int r(void){return 1;}", ["-shared", "-fPIC", "-Wl,-soname,libr.so.1"]);
  cc("/usr/lib/alt/libq.so.1", "int r(void); int q(void){return r();}", [
    "-shared",
    "-fPIC",
    "-Wl,-soname,libq.so.1",
    "-Wl,--enable-new-dtags",
    "-Wl,-rpath,$ORIGIN",
    `-L${join(root, "usr/lib/alt")}`,
    "-l:libr.so.1",
  ]);
  link("/etc/alternatives/libq.so.1", "/usr/lib/alt/libq.so.1");
  link(`${L}/libq.so.1`, "/etc/alternatives/libq.so.1");
  link(`${L}/libr.so.1`, "/usr/lib/alt/libr.so.1");
  // The interpreter: RUNPATH $ORIGIN/../lib/pyx (new dtags).
  cc("/usr/bin/python3.11", "int pyx(void); int main(void){return pyx();}", [
    "-Wl,--enable-new-dtags",
    "-Wl,-rpath,$ORIGIN/../lib/pyx",
    `-L${join(root, "usr/lib/pyx")}`,
    "-l:libpyx.so.1",
  ]);
  link("/usr/bin/python3", "python3.11");
  link("/usr/local/bin/python", "/usr/bin/python3");
  put("/usr/bin/dash", "#!dash\n", 0o755);
  link("/usr/bin/sh", "dash");
  // ld.so.conf with an include: libconf for an extension module.
  put("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
  put("/etc/ld.so.conf.d/x.conf", "# comment\n/opt/conf\n");
  cc("/opt/conf/libconf.so.1", "int conf(void){return 1;}", ["-shared", "-fPIC", "-Wl,-soname,libconf.so.1"]);
  // Stdlib (Debian layout).
  const S = "/usr/lib/python3.11";
  put(`${S}/os.py`);
  // Cached bytecode: one stale (recorded mtime is not the source's, as after a commit that clamped
  // timestamps), one valid, one hash-based — and a stale one in a distribution.
  const SRC_MTIME = 1_700_000_000;
  const pyc = (flags: number, mtime: number, size: number) => pycHeader(flags, mtime, size, 20);
  const source = (path: string, text: string) => {
    put(path, text);
    utimesSync(join(root, path), SRC_MTIME, SRC_MTIME);
  };
  source(`${S}/json/__init__.py`, "# json\n");
  put(`${S}/json/__pycache__/__init__.cpython-311.pyc`, pyc(0, SRC_MTIME, 7));
  source(`${S}/abc.py`, "# abc\n");
  put(`${S}/__pycache__/abc.cpython-311.pyc`, pyc(0, SRC_MTIME + 5, 6));
  put(`${S}/__pycache__/abc.cpython-311.opt-1.pyc`, pyc(0, SRC_MTIME, 99));
  source(`${S}/ast.py`, "# ast\n");
  put(`${S}/__pycache__/ast.cpython-311.pyc`, pyc(1, 0, 0));
  put(`${S}/test/test_os.py`);
  put(`${S}/idlelib/idle.py`);
  put(`${S}/tkinter/__init__.py`);
  put(`${S}/lib-dynload/_ssl.cpython-311.so`, "not really elf");
  put("/etc/python3.11/sitecustomize.py", "# debian\n");
  link(`${S}/sitecustomize.py`, "/etc/python3.11/sitecustomize.py");
  // Distributions: foo (RECORD with ../../ and quoting, a C extension), pip (dropped), bar (missing lib).
  const D = "/usr/local/lib/python3.11/dist-packages";
  put(`${D}/foo/__init__.py`);
  put(`${D}/foo/we,ird.py`);
  put(`${D}/foo/locale/de/LC_MESSAGES/foo.po`, 'msgid "x"\nmsgstr "y"\n');
  put(`${D}/foo/locale/de/LC_MESSAGES/foo.mo`, "compiled");
  put(`${D}/foo/__init__.pyi`, "def f() -> int: ...\n");
  source(`${D}/foo/util.py`, "# util\n");
  put(`${D}/foo/__pycache__/util.cpython-311.pyc`, pyc(0, SRC_MTIME, 99));
  cc(`${D}/foo/_c.cpython-311.so`, "int conf(void); int c(void){return conf();}", [
    "-shared",
    "-fPIC",
    `-L${join(root, "opt/conf")}`,
    "-l:libconf.so.1",
  ]);
  put("/usr/local/bin/foo-cli", "#!/usr/bin/python3\n", 0o755);
  put(`${D}/foo-1.0.dist-info/METADATA`, "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n");
  put(
    `${D}/foo-1.0.dist-info/RECORD`,
    'foo/__init__.py,,\n"foo/we,ird.py",,\nfoo/locale/de/LC_MESSAGES/foo.po,,\nfoo/locale/de/LC_MESSAGES/foo.mo,,\nfoo/__init__.pyi,,\nfoo/util.py,,\nfoo/__pycache__/util.cpython-311.pyc,,\nfoo/_c.cpython-311.so,,\nfoo/_q.so,,\n../../../bin/foo-cli,,\nfoo-1.0.dist-info/RECORD,,\nfoo-1.0.dist-info/METADATA,,\n',
  );
  cc(`${D}/foo/_q.so`, "int q(void); int qq(void){return q();}", [
    "-shared",
    "-fPIC",
    `-L${join(root, "usr/lib/alt")}`,
    "-l:libq.so.1",
  ]);
  cc(`${D}/bar/_m.so`, "int missing(void); int m(void){return missing();}", [
    "-shared",
    "-fPIC",
    `-L${join(root, "opt/conf")}`,
    "-Wl,--allow-shlib-undefined",
    "-l:libconf.so.1",
  ]);
  put(`${D}/bar-2.0.dist-info/METADATA`, "Name: bar\n");
  put(`${D}/bar-2.0.dist-info/RECORD`, "bar/_m.so,,\nbar-2.0.dist-info/RECORD,,\n");
  put(`${D}/pip/__init__.py`);
  put(`${D}/pip-23.0.dist-info/METADATA`, "Name: pip\n");
  put(`${D}/pip-23.0.dist-info/RECORD`, "pip/__init__.py,,\n");
  // A link that tries to climb out of the root, listed by a RECORD.
  link(`${D}/escape`, "../../../../../../../../../../etc");
  put(`${D}/bar-2.0.dist-info/RECORD`, "bar/_m.so,,\nbar-2.0.dist-info/RECORD,,\nescape/hostname,,\n");
  put("/etc/hostname", "inside-root\n");
  // Data.
  put("/etc/ssl/certs/ca-certificates.crt", "PEM\n");
  put("/usr/share/zoneinfo/Europe/Paris", "TZif2");
  put("/usr/share/zoneinfo/right/Europe/Paris", "TZif2 with leap seconds");
  put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  put("/etc/group", "root:x:0:\n");
  put("/usr/lib/os-release", "ID=debian\n");
  link("/etc/os-release", "../usr/lib/os-release");
  put("/usr/share/doc/libc6/copyright", "c".repeat(100));
  put("/app/app.py", "print('hi')\n");
  // dpkg: libc6 owns /lib/<triplet>/libc.so.6 (not /usr/lib: merged-/usr aliasing), dash owns /bin/dash.
  put(
    "/var/lib/dpkg/status",
    "Package: libc6\nVersion: 1\n\nPackage: dash\nVersion: 2\n\nPackage: libconf1\nVersion: 3\n",
  );
  put(
    `/var/lib/dpkg/info/libc6:${process.arch === "x64" ? "amd64" : "arm64"}.list`,
    `/.\n/lib\n/lib/${TRIPLET}/libc.so.6\n`,
  );
  put("/var/lib/dpkg/info/dash.list", "/.\n/bin\n/bin/dash\n/usr/share/doc/libc6/copyright\n");
  put("/var/lib/dpkg/info/libconf1.list", "/opt/conf/libconf.so.1\n");
  closure = computeClosure(root, { user: { name: "app", uid: 10001, gid: 10001 } });
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!hasGcc)("computeClosure over a fixture root", () => {
  it("keeps the interpreter through its symlink chain, and its RUNPATH/$ORIGIN and inherited DT_RPATH libraries", () => {
    const rt = kept("runtime");
    for (const p of ["/usr/local/bin/python", "/usr/bin/python3", "/usr/bin/python3.11", "/lib"])
      expect(rt).toContain(p);
    expect(rt).toContain("/usr/lib/pyx/libpyx.so.1");
    expect(rt).toContain("/usr/lib/pyx/libpyx.so.1.0");
    expect(rt).toContain("/usr/lib/deprpath/libdep.so.2");
    expect(rt).not.toContain("/usr/lib/decoy/libdep.so.2");
    expect(rt).toContain(`/usr/lib/${TRIPLET}/libc.so.6`);
    // PT_INTERP and the directory links leading to it.
    expect(rt).toContain(`/usr/lib/${TRIPLET}/${LDSO}`);
    if (process.arch === "x64") expect(rt).toContain("/lib64");
    expect(closure.python).toMatchObject({ version: "3.11", stdlib: "/usr/lib/python3.11" });
    const exe = parseElf(readFileSync(join(root, "usr/bin/python3.11")));
    expect(exe.interp).toMatch(new RegExp(`/${LDSO!.replace(/\./g, "\\.")}$`));
    expect(exe.runpath).toEqual(["$ORIGIN/../lib/pyx"]);
    expect(parseElf(readFileSync(join(root, "usr/lib/pyx/libpyx.so.1.0")))).toMatchObject({
      soname: "libpyx.so.1",
      rpath: ["$ORIGIN/../deprpath"],
      runpath: [],
    });
    expect(parseElf(readFileSync(join(root, "usr/lib/pyx/libpyx.so.1.0"))).interp).toBeUndefined();
  });

  it("keeps the stdlib minus what a server never imports, with Debian's sitecustomize link target", () => {
    const rt = kept("runtime");
    expect(rt).toContain("/usr/lib/python3.11/os.py");
    expect(rt).toContain("/usr/lib/python3.11/lib-dynload/_ssl.cpython-311.so");
    expect(rt).toContain("/etc/python3.11/sitecustomize.py");
    for (const p of ["test/test_os.py", "idlelib/idle.py", "tkinter/__init__.py"]) {
      expect(kept()).not.toContain(`/usr/lib/python3.11/${p}`);
    }
    const stdlibParts = closure.dropped.find((d) => d.group === "stdlib parts")!;
    expect(stdlibParts.files).toBe(3);
  });

  it("keeps every RECORDed file (.po catalogs and .pyi stubs too) and all of zoneinfo", () => {
    const deps = kept("dependencies");
    const D = "/usr/local/lib/python3.11/dist-packages";
    expect(deps).toContain(`${D}/foo/locale/de/LC_MESSAGES/foo.mo`);
    expect(deps).toContain(`${D}/foo/locale/de/LC_MESSAGES/foo.po`);
    expect(deps).toContain(`${D}/foo/__init__.pyi`);
    expect(kept("runtime")).toContain("/usr/share/zoneinfo/Europe/Paris");
    expect(kept("runtime")).toContain("/usr/share/zoneinfo/right/Europe/Paris");
  });

  it("drops stale timestamp-based .pyc files (Python recompiles their source), keeps valid and hash-based ones", () => {
    const S = "/usr/lib/python3.11";
    const D = "/usr/local/lib/python3.11/dist-packages";
    expect(kept("runtime")).toContain(`${S}/json/__pycache__/__init__.cpython-311.pyc`);
    expect(kept("runtime")).toContain(`${S}/__pycache__/ast.cpython-311.pyc`);
    expect(kept()).not.toContain(`${S}/__pycache__/abc.cpython-311.pyc`);
    expect(kept("runtime")).toContain(`${S}/abc.py`);
    expect(kept("dependencies")).toContain(`${D}/foo/util.py`);
    expect(kept()).not.toContain(`${D}/foo/__pycache__/util.cpython-311.pyc`);
    const stale = closure.dropped.find((d) => d.group === "stale bytecode")!;
    expect([...stale.paths].sort()).toEqual([
      `${S}/__pycache__/abc.cpython-311.opt-1.pyc`,
      `${S}/__pycache__/abc.cpython-311.pyc`,
      `${D}/foo/__pycache__/util.cpython-311.pyc`,
    ]);
    expect(stale.bytes).toBe(60);
  });

  it("--keep brings a stale .pyc back (the user asked for it)", () => {
    const stalePyc = "/usr/lib/python3.11/__pycache__/abc.cpython-311.pyc";
    const withKeep = computeClosure(root, { keep: [stalePyc] });
    const all = withKeep.layers.flatMap((l) => l.files.map((f) => f.path));
    expect(all).toContain(stalePyc);
    expect(withKeep.dropped.find((d) => d.group === "stale bytecode")!.paths).not.toContain(stalePyc);
  });

  it("keeps RECORDed files (../../bin entries, quoted names) and their ELF closure via ld.so.conf includes", () => {
    const deps = kept("dependencies");
    expect(deps).toContain("/usr/local/lib/python3.11/dist-packages/foo/we,ird.py");
    expect(deps).toContain("/usr/local/bin/foo-cli");
    expect(kept("system")).toContain("/opt/conf/libconf.so.1");
    expect(kept()).not.toContain("/usr/local/lib/python3.11/dist-packages/pip/__init__.py");
    expect(closure.distributions).toEqual(["bar", "foo"]);
    expect(kept("app")).toContain("/app/app.py");
    // No project named: no project layer at all (not an empty one).
    expect(closure.layers.map((l) => l.role)).toEqual(["runtime", "system", "dependencies", "app"]);
  });

  it("puts the project's own distribution (any spelling of its name) in the project layer, its libraries in system", () => {
    const own = computeClosure(root, { user: { name: "app", uid: 10001, gid: 10001 }, project: "Foo" });
    expect(own.layers.map((l) => l.role)).toEqual(["runtime", "system", "dependencies", "project", "app"]);
    const of = (role: string) => own.layers.find((l) => l.role === role)!.files.map((f) => f.path);
    expect(of("project")).toContain("/usr/local/lib/python3.11/dist-packages/foo/we,ird.py");
    expect(of("project")).toContain("/usr/local/bin/foo-cli");
    expect(of("dependencies")).not.toContain("/usr/local/lib/python3.11/dist-packages/foo/util.py");
    expect(of("dependencies").some((p) => p.includes("/bar"))).toBe(true);
    expect(of("system")).toContain("/opt/conf/libconf.so.1");
    // The tally by reason counts each kept file once (the report's file counts come from it).
    for (const l of own.layers)
      expect(Object.values(l.byReason).reduce((n, r) => n + (r?.files ?? 0), 0)).toBe(l.files.length);
  });

  it("expands a library's $ORIGIN from the path it was found by, not its symlink target", () => {
    const sys = kept("system");
    for (const p of [
      `/usr/lib/${TRIPLET}/libq.so.1`,
      "/etc/alternatives/libq.so.1",
      "/usr/lib/alt/libq.so.1",
    ]) {
      expect(sys).toContain(p);
    }
    expect(sys).toContain(`/usr/lib/${TRIPLET}/libr.so.1`);
    expect(sys).toContain("/usr/lib/alt/libr.so.1");
  });

  it("reports an unresolved library instead of skipping it", () => {
    expect(closure.unresolved).toEqual([]);
    cc("/usr/local/lib/python3.11/dist-packages/bar/_n.so", "int dep(void); int n(void){return dep();}", [
      "-shared",
      "-fPIC",
      `-L${join(root, "usr/lib/decoy")}`,
      "-l:libdep.so.2",
    ]);
    rmSync(join(root, "usr/lib/decoy/libdep.so.2"));
    rmSync(join(root, "usr/lib/deprpath/libdep.so.2"));
    const broken = computeClosure(root, { keep: ["/usr/local/lib/python3.11/dist-packages/bar/_n.so"] });
    expect(broken.unresolved).toContainEqual({
      library: "libdep.so.2",
      neededBy: "/usr/local/lib/python3.11/dist-packages/bar/_n.so",
    });
    // The assembly's closure refuses it before anything is written or pulled.
    expect(() =>
      minimalClosure(root, { keep: ["/usr/local/lib/python3.11/dist-packages/bar/_n.so"] }),
    ).toThrow(/^the minimal image would lack libdep\.so\.2, needed by /);
  });

  it("groups what it drops, with bytes", () => {
    const by = Object.fromEntries(closure.dropped.map((d) => [d.group, d]));
    expect(by["shell & tools"]!.paths).toEqual(expect.arrayContaining(["/usr/bin/dash", "/usr/bin/sh"]));
    expect(by.docs!.bytes).toBe(100);
    expect(by["Python tooling"]!.paths).toContain("/usr/local/lib/python3.11/dist-packages/pip/__init__.py");
    expect(kept()).not.toContain("/usr/bin/dash");
  });

  it("writes the dpkg status of the packages whose files remain (merged-/usr aliasing), verbatim", () => {
    expect(closure.packages).toEqual(["libc6", "libconf1"]);
    const status = closure.layers
      .flatMap((l) => l.generated)
      .filter((g) => g.path === "/var/lib/dpkg/status");
    expect(status.at(-1)!.content).toBe("Package: libc6\nVersion: 1\n\nPackage: libconf1\nVersion: 3\n");
    expect(status[0]!.role).toBe("runtime");
    expect(status[0]!.content).toBe("Package: libc6\nVersion: 1\n");
  });

  it("adds the app user to /etc/passwd and /etc/group", () => {
    const gen = Object.fromEntries(
      closure.layers.flatMap((l) => l.generated).map((g) => [g.path, g.content]),
    );
    expect(gen["/etc/passwd"]).toBe(
      "root:x:0:0:root:/root:/bin/bash\napp:x:10001:10001::/nonexistent:/usr/sbin/nologin\n",
    );
    expect(gen["/etc/group"]).toBe("root:x:0:\napp:x:10001:\n");
    expect(kept("runtime")).toContain("/usr/lib/os-release");
  });

  it("never leaves the root: links resolve against it", () => {
    const fs = diskRoot(root);
    expect(resolveIn(fs, "/usr/local/lib/python3.11/dist-packages/escape/hostname")).toMatchObject({
      path: "/etc/hostname",
      exists: true,
    });
    expect(resolveIn(fs, "/../../../../etc/hostname").path).toBe("/etc/hostname");
    expect(kept("dependencies")).toContain("/etc/hostname");
  });
});

/**
 * The official images' layout: Python under /usr/local, site-packages inside the stdlib's
 * directory. No ELF objects (the interpreter is a plain file), so no compiler needed.
 */
describe("computeClosure over the official images' /usr/local layout", () => {
  let local: string;
  const S = "/usr/local/lib/python3.12";
  const SP = `${S}/site-packages`;
  const at = (path: string, content = "x\n", mode = 0o644) => {
    mkdirSync(dirname(join(local, path)), { recursive: true });
    writeFileSync(join(local, path), content, { mode });
  };
  const ln = (path: string, target: string) => {
    mkdirSync(dirname(join(local, path)), { recursive: true });
    symlinkSync(target, join(local, path));
  };
  const dist = (name: string, version: string, files: string[], requires: string[] = []) => {
    for (const f of files) at(`${SP}/${f}`);
    const info = `${name}-${version}.dist-info`;
    at(
      `${SP}/${info}/METADATA`,
      `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n${requires.map((r) => `Requires-Dist: ${r}\n`).join("")}`,
    );
    at(
      `${SP}/${info}/RECORD`,
      [...files, `${info}/METADATA`, `${info}/RECORD`].map((f) => `${f},,\n`).join(""),
    );
  };
  const paths = (c: Closure, role?: string) =>
    new Set(c.layers.filter((l) => !role || l.role === role).flatMap((l) => l.files.map((f) => f.path)));

  beforeAll(() => {
    local = mkdtempSync(join(tmpdir(), "minimize-local-"));
    at("/usr/local/bin/python3.12", "not an ELF file", 0o755);
    ln("/usr/local/bin/python3", "python3.12");
    ln("/usr/local/bin/python", "python3");
    at("/usr/local/bin/pip", "#!/usr/local/bin/python\n", 0o755);
    at("/usr/local/bin/pip3", "#!/usr/local/bin/python\n", 0o755);
    at("/usr/local/lib/libpython3.12.so.1.0", "not an ELF file");
    ln("/usr/local/lib/libpython3.12.so", "libpython3.12.so.1.0");
    at(`${S}/os.py`);
    at(`${S}/json/__init__.py`);
    at(`${S}/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so`, "not an ELF file");
    at(`${S}/test/test_os.py`);
    at(`${S}/idlelib/idle.py`);
    at(`${S}/ensurepip/__init__.py`);
    at(`${SP}/README.txt`, "This directory exists so that 3rd party packages can be installed here.\n");
    dist("pip", "24.0", ["pip/__init__.py", "pip/_internal/cli.py", "../../../bin/pip", "../../../bin/pip3"]);
    dist("setuptools", "69.0", [
      "setuptools/__init__.py",
      "pkg_resources/__init__.py",
      "_distutils_hack/__init__.py",
    ]);
    dist("wheel", "0.42.0", ["wheel/__init__.py"]);
    dist(
      "flask",
      "3.0.0",
      ["flask/__init__.py", "flask/app.py"],
      ["itsdangerous>=2.1", "pytest; extra == 'test'"],
    );
    dist("itsdangerous", "2.1.2", ["itsdangerous/__init__.py"]);
    at("/etc/ssl/certs/ca-certificates.crt", "PEM\n");
    at("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    at("/etc/group", "root:x:0:\n");
    at("/usr/share/doc/python3/README", "docs");
    at("/app/app.py", "print('hi')\n");
  });
  afterAll(() => {
    if (local) rmSync(local, { recursive: true, force: true });
  });

  it("finds the interpreter through /usr/local/bin's links, with libpython and the stdlib under /usr/local/lib", () => {
    const c = computeClosure(local);
    expect(c.python).toEqual({ executable: "/usr/local/bin/python", version: "3.12", stdlib: S });
    const rt = paths(c, "runtime");
    for (const p of [
      "/usr/local/bin/python",
      "/usr/local/bin/python3",
      "/usr/local/bin/python3.12",
      "/usr/local/lib/libpython3.12.so",
      "/usr/local/lib/libpython3.12.so.1.0",
      `${S}/os.py`,
      `${S}/json/__init__.py`,
      `${S}/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so`,
    ])
      expect(rt, p).toContain(p);
  });

  it("leaves out the stdlib parts a server never imports, and site-packages from the runtime layer", () => {
    const c = computeClosure(local);
    const all = paths(c);
    for (const p of ["test/test_os.py", "idlelib/idle.py", "ensurepip/__init__.py"])
      expect(all).not.toContain(`${S}/${p}`);
    expect([...paths(c, "runtime")].filter((p) => p.startsWith(`${SP}/`))).toEqual([]);
    const stdlibParts = c.dropped.find((d) => d.group === "stdlib parts")!;
    expect([...stdlibParts.paths].sort()).toEqual([
      `${S}/ensurepip/__init__.py`,
      `${S}/idlelib/idle.py`,
      `${S}/test/test_os.py`,
    ]);
  });

  it("reads site-packages' RECORDs: the app's distributions and what they require stay, pip/setuptools/wheel go", () => {
    const c = computeClosure(local);
    expect(c.distributions).toEqual(["flask", "itsdangerous"]);
    const deps = paths(c, "dependencies");
    for (const p of ["flask/app.py", "itsdangerous/__init__.py", "flask-3.0.0.dist-info/RECORD"])
      expect(deps).toContain(`${SP}/${p}`);
    for (const p of ["pip/__init__.py", "setuptools/__init__.py", "wheel/__init__.py"])
      expect(deps).not.toContain(`${SP}/${p}`);
    expect(paths(c)).not.toContain("/usr/local/bin/pip");
    expect(paths(c, "app")).toContain("/app/app.py");
  });

  // Regression: site-packages is inside the stdlib's directory here, and the stdlib rule came
  // first — the dropped pip, setuptools and wheel were reported as "stdlib parts".
  it("groups dropped pip, setuptools and wheel (and their scripts) as Python tooling, not stdlib parts", () => {
    const c = computeClosure(local);
    const by = Object.fromEntries(c.dropped.map((d) => [d.group, d]));
    const tooling = by["Python tooling"]!.paths;
    for (const p of [
      `${SP}/pip/__init__.py`,
      `${SP}/pip/_internal/cli.py`,
      `${SP}/pip-24.0.dist-info/RECORD`,
      `${SP}/setuptools/__init__.py`,
      `${SP}/pkg_resources/__init__.py`,
      `${SP}/_distutils_hack/__init__.py`,
      `${SP}/wheel-0.42.0.dist-info/METADATA`,
      "/usr/local/bin/pip",
      "/usr/local/bin/pip3",
    ])
      expect(tooling, p).toContain(p);
    expect(by["stdlib parts"]!.paths.filter((p) => p.startsWith(`${SP}/`))).toEqual([]);
    expect(by.other!.paths).toContain(`${SP}/README.txt`);
    expect(by.docs!.paths).toEqual(["/usr/share/doc/python3/README"]);
    expect(classifyDropped(`${SP}/pip/__init__.py`, S)).toBe("Python tooling");
    expect(classifyDropped(`${S}/idlelib/idle.py`, S)).toBe("stdlib parts");
  });

  it("keeps setuptools (its RECORDed files) when the project requires it directly", () => {
    const c = computeClosure(local, { requires: ["SetupTools", "flask"] });
    expect(c.distributions).toEqual(["flask", "itsdangerous", "setuptools"]);
    const deps = paths(c, "dependencies");
    for (const p of ["setuptools/__init__.py", "pkg_resources/__init__.py", "_distutils_hack/__init__.py"])
      expect(deps).toContain(`${SP}/${p}`);
    expect(deps).not.toContain(`${SP}/pip/__init__.py`);
    expect(deps).not.toContain(`${SP}/wheel/__init__.py`);
  });

  it("refuses a keep path that matches nothing in the image (an input error naming it)", () => {
    const keep = (k: string) => () => computeClosure(local, { keep: [k] });
    expect(paths(computeClosure(local, { keep: ["/usr/share/doc/**/README"] }), "system")).toContain(
      "/usr/share/doc/python3/README",
    );
    for (const k of ["/usr/share/misc/magic.mgc", "/usr/share/nothing/**/*.mgc"]) {
      expect(keep(k)).toThrow(expect.objectContaining({ code: "input", exitCode: 2 }));
      expect(keep(k)).toThrow(`keep ${k}: nothing in the built image matches it`);
    }
  });

  it("refuses a runtime base without Python as an input error naming the image", () => {
    const bare = mkdtempSync(join(tmpdir(), "minimize-bare-"));
    try {
      mkdirSync(join(bare, "usr/bin"), { recursive: true });
      writeFileSync(join(bare, "usr/bin/busybox"), "x");
      let error: unknown;
      try {
        computeClosure(local, { baseRoot: bare, baseImage: "docker.io/library/busybox:1" });
      } catch (e) {
        error = e;
      }
      expect(isSlimwheelError(error)).toBe(true);
      expect(error).toMatchObject({
        code: "input",
        exitCode: 2,
        message: "docker.io/library/busybox:1 has no Python interpreter in /usr/local/bin or /usr/bin",
      });
      expect((error as { hint: string }).hint).toContain("--runtime slim");
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe("assertResolved", () => {
  it("passes a closure with every library found", () => {
    expect(() => assertResolved({ unresolved: [] })).not.toThrow();
  });
  it("refuses one lacking a library, naming it, what needs it and how many more", () => {
    const u = [
      { library: "libpq.so.5", neededBy: "/usr/local/lib/python3.12/site-packages/psycopg2/_psycopg.so" },
      { library: "libssl.so.3", neededBy: "/usr/lib/x86_64-linux-gnu/libpq.so.5" },
    ];
    expect(() => assertResolved({ unresolved: u })).toThrow(
      expect.objectContaining({
        code: "engine",
        message:
          "the minimal image would lack libpq.so.5, needed by /usr/local/lib/python3.12/site-packages/psycopg2/_psycopg.so (and 1 more)",
        hint: "install the package that ships it in the image, or use --runtime slim",
        details: `libpq.so.5 ← ${u[0]!.neededBy}\nlibssl.so.3 ← ${u[1]!.neededBy}`,
      }),
    );
  });
});
