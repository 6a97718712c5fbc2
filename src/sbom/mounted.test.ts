import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diskRoot } from "../minimize/rootfs.js";
import { collectRoot } from "./mounted.js";

let root: string;
let outside: string;
const put = (path: string, text: string) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "sbom-root-"));
  outside = mkdtempSync(join(tmpdir(), "sbom-outside-"));
  writeFileSync(join(outside, "METADATA"), "Metadata-Version: 2.1\nName: host-secret\nVersion: 6.6.6\n");
  put("usr/lib/os-release", 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n');
  mkdirSync(join(root, "etc"), { recursive: true });
  symlinkSync("../usr/lib/os-release", join(root, "etc/os-release"));
  put(
    "var/lib/dpkg/status",
    "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
  );
  const S = "usr/local/lib/python3.11/site-packages";
  put(
    `${S}/flask-3.0.0.dist-info/METADATA`,
    "Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\nLicense-Expression: BSD-3-Clause\n",
  );
  put(`${S}/flask-3.0.0.dist-info/RECORD`, "flask/__init__.py,,\n");
  // A dist-info without METADATA is listed from its name; one whose METADATA links out of the root is not read from the host.
  mkdirSync(join(root, `${S}/bare-1.2.dist-info`), { recursive: true });
  mkdirSync(join(root, `${S}/evil-1.0.dist-info`), { recursive: true });
  symlinkSync(join(outside, "METADATA"), join(root, `${S}/evil-1.0.dist-info/METADATA`));
  put("opt/venv/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA", "Name: six\nVersion: 1.16.0\n");
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe("collectRoot: the SBOM's contents from a mounted root", () => {
  it("lists the installed Debian packages, every distribution (venvs too) and os-release through its link", () => {
    const c = collectRoot(diskRoot(root), { ref: "containers-storage:x", configDigest: "sha256:c" });
    expect(c.deb.map((d) => `${d.name} ${d.version}`)).toEqual(["libc6 2.36-9"]);
    expect(c.python.map((p) => `${p.name} ${p.version} ${p.path}`)).toEqual([
      "bare 1.2 /usr/local/lib/python3.11/site-packages/bare-1.2.dist-info",
      "evil 1.0 /usr/local/lib/python3.11/site-packages/evil-1.0.dist-info",
      "Flask 3.0.0 /usr/local/lib/python3.11/site-packages/flask-3.0.0.dist-info",
      "six 1.16.0 /opt/venv/lib/python3.11/site-packages/six-1.16.0.dist-info",
    ]);
    expect(c.python.find((p) => p.name === "Flask")?.recordSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(c.osRelease).toMatchObject({ id: "debian", versionId: "12" });
    expect(JSON.stringify(c)).not.toContain("host-secret");
  });
});
