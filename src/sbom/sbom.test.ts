import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../cli/testing.js";
import type { Context } from "../context.js";
import { writeLayerBlob } from "../oci/blob.js";
import { FakeRegistry } from "../oci/fake-registry.testutil.js";
import { assembleImage, loadLayoutImage, writeDockerArchive, writeOciLayout } from "../oci/image-writer.js";
import { openImageSource, parseImageRef } from "../oci/ref.js";
import { pushImage } from "../oci/registry.js";
import { type LayerEntry, layerTar } from "../oci/tar-writer.js";
import { silentReporter } from "../reporter/index.js";
import { collectImage, contentsFromFiles, distributionFromMetadata } from "./collect.js";
import { cyclonedxBom } from "./cyclonedx.js";
import { contentUuid, debPurl, pypiPurl } from "./ids.js";
import { attachSbom, parseSbomFormat, renderSbom, sbomPathBeside, writeSbomFor } from "./index.js";
import { isSpdxExpression } from "./licenses.js";
import { cyclonedxProblems, cyclonedxSchema, spdxProblems, spdxSchema } from "./sbom-schema.testutil.js";
import { spdxDocument } from "./spdx.js";

const EPOCH = 1_700_000_000;
const dirs: string[] = [];
const tmp = async (name: string) => {
  const d = await mkdtemp(join(tmpdir(), `sbom-${name}-`));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const file = (path: string, text: string): LayerEntry => ({ path, type: "file", content: Buffer.from(text) });
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

const OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
`;
const DPKG_STATUS = `Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries.

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1

Package: libssl3
Status: deinstall ok config-files
Architecture: amd64
Version: 3.0.11-1~deb12u2

Package: libsqlite3-0
Status: install ok installed
Architecture: amd64
Source: sqlite3 (3.40.1-2)
Version: 3.40.1-2+b1
`;
const LIBC_MD5SUMS = "5a8b1c8e2f0e7e7c1b7b0f1d2e3c4a5b  lib/x86_64-linux-gnu/libc.so.6\n";

const SP = "usr/local/lib/python3.12/site-packages";
const VENV = "opt/venv/lib/python3.12/site-packages";
const REQUESTS_META = `Metadata-Version: 2.1
Name: requests
Version: 2.32.3
Summary: Python HTTP for Humans.
License: Apache-2.0
Classifier: License :: OSI Approved :: Apache Software License
Classifier: Programming Language :: Python :: 3

Long description. License: MIT (not a header)
`;
const REQUESTS_RECORD = "requests/__init__.py,sha256=abc,4960\nrequests-2.32.3.dist-info/RECORD,,\n";
const FLASK_LOGIN_META = `Metadata-Version: 2.1
Name: Flask-Login
Version: 0.6.3
License: UNKNOWN
Classifier: License :: OSI Approved :: MIT License
`;
const PEP639_META = `Metadata-Version: 2.4
Name: attrs
Version: 24.2.0
License-Expression: MIT OR Apache-2.0
License: ignored when an expression is given
`;
const TEXT_LICENSE_META = `Metadata-Version: 2.1
Name: odd_pkg
Version: 1.0
License: Copyright (c) 2020 Someone
        
        Permission is hereby granted, free of charge.
Classifier: License :: Other/Proprietary License
`;
const BSDISH_META = `Metadata-Version: 2.1
Name: bsdish
Version: 1.0
Classifier: License :: OSI Approved
Classifier: License :: OSI Approved :: BSD License
Classifier: License :: OSI Approved :: MIT License
`;
const PIP_META = "Metadata-Version: 2.1\nName: pip\nVersion: 24.0\nLicense: MIT\n";

/** A Debian-like base, a dependencies layer, and a layer that removes one distribution. */
async function fixtureImage(): Promise<{ layout: string; digest: string }> {
  const store = await tmp("store");
  const base: LayerEntry[] = [
    file("usr/lib/os-release", OS_RELEASE),
    { path: "etc/os-release", type: "symlink", linkTarget: "../usr/lib/os-release" },
    file("var/lib/dpkg/status", DPKG_STATUS),
    file("var/lib/dpkg/info/libc6:amd64.md5sums", LIBC_MD5SUMS),
  ];
  const deps: LayerEntry[] = [
    file(`${SP}/requests-2.32.3.dist-info/METADATA`, REQUESTS_META),
    file(`${SP}/requests-2.32.3.dist-info/RECORD`, REQUESTS_RECORD),
    file(`${SP}/Flask_Login-0.6.3.dist-info/METADATA`, FLASK_LOGIN_META),
    file(`${SP}/attrs-24.2.0.dist-info/METADATA`, PEP639_META),
    file(`${SP}/odd_pkg-1.0.dist-info/METADATA`, TEXT_LICENSE_META),
    file(`${SP}/pip-24.0.dist-info/METADATA`, PIP_META),
    file(`${SP}/bsdish-1.0.dist-info/METADATA`, BSDISH_META),
    file(`${VENV}/pip-24.0.dist-info/METADATA`, PIP_META),
    // setuptools' egg-info, as a directory and as a single file.
    file(
      "usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO",
      "Metadata-Version: 1.1\nName: PyJWT\nVersion: 2.6.0\nLicense: MIT\n",
    ),
    file(
      "usr/lib/python3/dist-packages/distro_info-1.5-py3.11.egg-info",
      "Metadata-Version: 1.0\nName: distro-info\nVersion: 1.5\n",
    ),
    // No METADATA: listed from the directory's name.
    file(`${SP}/bare_dist-2.0.dist-info/RECORD`, "bare/__init__.py,,\n"),
    file(`${SP}/removed-1.0.dist-info/METADATA`, "Name: removed\nVersion: 1.0\n"),
    // Not in a site-packages directory: not an installed distribution.
    file("app/vendor/fake-9.9.dist-info/METADATA", "Name: fake\nVersion: 9.9\n"),
  ];
  const cleanup: LayerEntry[] = [file(`${SP}/.wh.removed-1.0.dist-info`, "")];
  const layers = [];
  for (const [i, entries] of [base, deps, cleanup].entries()) {
    const blob = await writeLayerBlob(layerTar(entries, { sourceDateEpoch: EPOCH }), store);
    layers.push({ blob, createdBy: `layer ${i}` });
  }
  const image = await assembleImage({
    layers,
    config: { cmd: ["python"], architecture: "amd64", os: "linux" },
    created: EPOCH,
    store,
  });
  const layout = join(await tmp("layout"), "app");
  await writeOciLayout(image, layout);
  return { layout, digest: image.manifest.descriptor.digest };
}

const ctxFor = (cwd: string, sourceDateEpoch?: number): Context => ({
  signal: new AbortController().signal,
  reporter: silentReporter,
  cwd,
  env: {},
  now: () => 1_800_000_000_000,
  sourceDateEpoch,
});

let fixture: { layout: string; digest: string };
beforeAll(async () => {
  fixture = await fixtureImage();
});

const collect = async (ref: string) => collectImage(await openImageSource(parseImageRef(ref, "/")));

describe("collectImage", () => {
  it("lists the Python distributions and dpkg packages of the final file system", async () => {
    const c = await collect(`oci:${fixture.layout}`);
    expect(c.manifestDigest).toBe(fixture.digest);
    expect(c.osRelease).toMatchObject({ id: "debian", versionId: "12", versionCodename: "bookworm" });
    expect(c.python.map((d) => `${d.name}@${d.version} ${d.path}`)).toEqual([
      `attrs@24.2.0 /${SP}/attrs-24.2.0.dist-info`,
      `bare_dist@2.0 /${SP}/bare_dist-2.0.dist-info`,
      `bsdish@1.0 /${SP}/bsdish-1.0.dist-info`,
      "distro-info@1.5 /usr/lib/python3/dist-packages/distro_info-1.5-py3.11.egg-info",
      `Flask-Login@0.6.3 /${SP}/Flask_Login-0.6.3.dist-info`,
      `odd_pkg@1.0 /${SP}/odd_pkg-1.0.dist-info`,
      `pip@24.0 /${VENV}/pip-24.0.dist-info`,
      `pip@24.0 /${SP}/pip-24.0.dist-info`,
      "PyJWT@2.6.0 /usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info",
      `requests@2.32.3 /${SP}/requests-2.32.3.dist-info`,
    ]);
    const requests = c.python.find((d) => d.name === "requests")!;
    expect(requests.recordSha256).toBe(sha(REQUESTS_RECORD));
    expect(requests.license).toBe("Apache-2.0");
    expect(requests.licenseClassifiers).toEqual(["OSI Approved :: Apache Software License"]);
    // The deinstalled package (config-files) is not listed.
    expect(c.deb.map((p) => `${p.name}=${p.version}/${p.architecture}`)).toEqual([
      "libc6=2.36-9+deb12u4/amd64",
      "libsqlite3-0=3.40.1-2+b1/amd64",
      "tzdata=2024a-0+deb12u1/all",
    ]);
    expect(c.deb[0]).toMatchObject({
      source: "glibc",
      md5sumsFile: "/var/lib/dpkg/info/libc6:amd64.md5sums",
      md5sumsSha256: sha(LIBC_MD5SUMS),
    });
    expect(c.deb[1]).toMatchObject({ source: "sqlite3", sourceVersion: "3.40.1-2" });
  });

  it("reads distroless status.d files and a docker archive (no manifest digest there)", async () => {
    const store = await tmp("distroless");
    const blob = await writeLayerBlob(
      layerTar(
        [
          file("etc/os-release", 'PRETTY_NAME="Distroless"\nID="debian"\nVERSION_ID="12"\n'),
          file(
            "var/lib/dpkg/status.d/base-files",
            "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
          ),
          file(
            "var/lib/dpkg/status.d/libssl3",
            "Package: libssl3\nVersion: 3.0.13-1~deb12u1\nArchitecture: amd64\n",
          ),
          file("var/lib/dpkg/status.d/libssl3.md5sums", "abc  usr/lib/libssl.so.3\n"),
          file("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "Name: six\nVersion: 1.16.0\n"),
        ],
        { sourceDateEpoch: EPOCH },
      ),
      store,
    );
    const image = await assembleImage({ layers: [{ blob }], config: {}, created: EPOCH, store });
    const archive = join(await tmp("da"), "img.tar");
    await writeDockerArchive(image, archive, { refName: "distroless:1" });
    const c = await collect(`docker-archive:${archive}`);
    expect(c.manifestDigest).toBeUndefined();
    expect(c.deb.map((p) => debPurl(p, c.osRelease))).toEqual([
      "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12",
      "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64&distro=debian-12",
    ]);
    expect(c.deb[1]!.md5sumsFile).toBe("/var/lib/dpkg/status.d/libssl3.md5sums");
    expect(c.python.map((d) => pypiPurl(d))).toEqual(["pkg:pypi/six@1.16.0"]);
    const bom = cyclonedxBom(c, { created: EPOCH, toolVersion: "0.0.0" });
    expect(cyclonedxSchema()(bom), JSON.stringify(cyclonedxSchema().errors)).toBe(true);
  });
});

describe("large files", () => {
  it("reads a dpkg status and a RECORD larger than 64 KiB", async () => {
    const store = await tmp("big");
    const status = Array.from(
      { length: 2000 },
      (_, i) =>
        `Package: pkg${i}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.${i}\nDescription: a package\n the long part of its description\n`,
    ).join("\n");
    const record = Array.from(
      { length: 3000 },
      (_, i) => `big/module_${i}.py,sha256=${"a".repeat(43)},1234\n`,
    ).join("");
    expect(status.length).toBeGreaterThan(64 * 1024);
    expect(record.length).toBeGreaterThan(64 * 1024);
    const blob = await writeLayerBlob(
      layerTar(
        [
          file("var/lib/dpkg/status", status),
          file(`${SP}/big-1.0.dist-info/METADATA`, "Name: big\nVersion: 1.0\n"),
          file(`${SP}/big-1.0.dist-info/RECORD`, record),
        ],
        { sourceDateEpoch: EPOCH },
      ),
      store,
    );
    const image = await assembleImage({ layers: [{ blob }], config: {}, created: EPOCH, store });
    const layout = join(await tmp("big-layout"), "big");
    await writeOciLayout(image, layout);
    const c = await collect(`oci:${layout}`);
    expect(c.deb).toHaveLength(2000);
    expect(c.python[0]!.recordSha256).toBe(sha(record));
  });
});

describe("CycloneDX 1.6", () => {
  it("validates against the published schema and says what is in the image", async () => {
    const c = await collect(`oci:${fixture.layout}`);
    const bom = cyclonedxBom(c, { created: EPOCH, toolVersion: "1.2.3" });
    const validate = cyclonedxSchema();
    expect(validate(bom), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(cyclonedxProblems(bom)).toEqual([]);
    expect(bom).toMatchObject({
      bomFormat: "CycloneDX",
      specVersion: "1.6",
      metadata: {
        timestamp: "2023-11-14T22:13:20Z",
        tools: { components: [{ type: "application", name: "slimwheel", version: "1.2.3" }] },
        component: {
          type: "container",
          name: "app",
          version: fixture.digest,
          purl: `pkg:oci/app@${fixture.digest.replace(":", "%3A")}?arch=amd64`,
        },
      },
    });
    const components = bom.components as Record<string, unknown>[];
    const byPurl = (p: string) => components.find((x) => x.purl === p);
    expect(components[0]).toMatchObject({ type: "operating-system", name: "debian", version: "12" });
    expect(byPurl("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12")).toMatchObject({
      hashes: [{ alg: "SHA-256", content: sha(LIBC_MD5SUMS) }],
      properties: expect.arrayContaining([{ name: "slimwheel:deb:source", value: "glibc" }]),
    });
    expect(byPurl("pkg:pypi/requests@2.32.3")).toMatchObject({
      hashes: [{ alg: "SHA-256", content: sha(REQUESTS_RECORD) }],
      // License: names an SPDX id; the classifiers are not read beside it.
      licenses: [{ license: { id: "Apache-2.0" } }],
      evidence: { occurrences: [{ location: `/${SP}/requests-2.32.3.dist-info` }] },
    });
    // License: UNKNOWN is no license: the classifiers are read.
    expect(byPurl("pkg:pypi/flask-login@0.6.3")).toMatchObject({ licenses: [{ license: { id: "MIT" } }] });
    // A classifier naming no single license is kept as a name; "OSI Approved" alone is dropped.
    expect(byPurl("pkg:pypi/bsdish@1.0")).toMatchObject({
      licenses: [{ license: { name: "BSD License" } }, { license: { id: "MIT" } }],
    });
    expect(byPurl("pkg:pypi/attrs@24.2.0")).toMatchObject({
      licenses: [{ expression: "MIT OR Apache-2.0" }],
    });
    expect(byPurl("pkg:pypi/odd-pkg@1.0")).toMatchObject({
      licenses: [
        {
          license: {
            name: "Copyright (c) 2020 Someone",
            text: { content: "Copyright (c) 2020 Someone\n\nPermission is hereby granted, free of charge." },
          },
        },
      ],
    });
    // The same distribution in two environments: two components, two refs.
    const pips = components.filter((x) => x.purl === "pkg:pypi/pip@24.0");
    expect(pips.map((x) => x["bom-ref"])).toEqual([
      `pkg:pypi/pip@24.0#/${VENV}/pip-24.0.dist-info`,
      `pkg:pypi/pip@24.0#/${SP}/pip-24.0.dist-info`,
    ]);
    expect(components.some((x) => x.name === "removed" || x.name === "fake" || x.name === "libssl3")).toBe(
      false,
    );
    expect(components).toHaveLength(1 + 3 + 10);
  });

  it("a broken BOM fails the schema", async () => {
    const c = await collect(`oci:${fixture.layout}`);
    const bom = cyclonedxBom(c, { created: EPOCH, toolVersion: "1.2.3" });
    const validate = cyclonedxSchema();
    const broken = structuredClone(bom) as Record<string, unknown>;
    (broken.components as Record<string, unknown>[])[1]!.licenses = [{ license: { id: "Not-A-License" } }];
    expect(validate(broken)).toBe(false);
    expect(validate({ ...bom, serialNumber: "not-a-uuid" })).toBe(false);
    expect(validate({ ...bom, specVersion: undefined })).toBe(false);
    const dup = structuredClone(bom) as Record<string, unknown>;
    (dup.components as Record<string, unknown>[])[2]!["bom-ref"] = (
      dup.components as Record<string, unknown>[]
    )[1]!["bom-ref"];
    expect(cyclonedxProblems(dup)).not.toEqual([]);
  });

  it("is the same bytes for the same image, and its serial number follows the content", async () => {
    const c = await collect(`oci:${fixture.layout}`);
    const o = { created: EPOCH, toolVersion: "1.2.3" };
    const a = renderSbom(c, "cyclonedx", o);
    const b = renderSbom(await collect(`oci:${fixture.layout}`), "cyclonedx", o);
    expect(a).toBe(b);
    const serial = JSON.parse(a).serialNumber as string;
    expect(serial).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The timestamp is not part of the content; a different package list is.
    expect(JSON.parse(renderSbom(c, "cyclonedx", { ...o, created: 0 })).serialNumber).toBe(serial);
    const fewer = { ...c, python: c.python.slice(1) };
    expect(JSON.parse(renderSbom(fewer, "cyclonedx", o)).serialNumber).not.toBe(serial);
  });
});

describe("SPDX 2.3", () => {
  it("validates against the published schema and the specification's rules", async () => {
    const c = await collect(`oci:${fixture.layout}`);
    const doc = spdxDocument(c, { created: EPOCH, toolVersion: "1.2.3" });
    const validate = spdxSchema();
    expect(validate(doc), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(spdxProblems(doc)).toEqual([]);
    expect(doc).toMatchObject({
      spdxVersion: "SPDX-2.3",
      dataLicense: "CC0-1.0",
      creationInfo: { created: "2023-11-14T22:13:20Z", creators: ["Tool: slimwheel-1.2.3"] },
      documentDescribes: ["SPDXRef-Image"],
    });
    const packages = doc.packages as Record<string, unknown>[];
    const pkg = (name: string) => packages.filter((p) => p.name === name);
    expect(pkg("requests")[0]).toMatchObject({
      versionInfo: "2.32.3",
      licenseDeclared: "Apache-2.0",
      checksums: [{ algorithm: "SHA256", checksumValue: sha(REQUESTS_RECORD) }],
      externalRefs: [
        {
          referenceCategory: "PACKAGE-MANAGER",
          referenceType: "purl",
          referenceLocator: "pkg:pypi/requests@2.32.3",
        },
      ],
    });
    expect(pkg("attrs")[0]!.licenseDeclared).toBe("MIT OR Apache-2.0");
    // Several declared licenses: all of them; names that are no SPDX id become LicenseRefs with their text.
    expect(pkg("bsdish")[0]!.licenseDeclared).toBe("LicenseRef-BSD-License AND MIT");
    expect(pkg("odd_pkg")[0]!.licenseDeclared).toBe("LicenseRef-Copyright-c-2020-Someone");
    expect(doc.hasExtractedLicensingInfos).toEqual([
      { licenseId: "LicenseRef-BSD-License", name: "BSD License", extractedText: "BSD License" },
      {
        licenseId: "LicenseRef-Copyright-c-2020-Someone",
        name: "Copyright (c) 2020 Someone",
        extractedText: "Copyright (c) 2020 Someone\n\nPermission is hereby granted, free of charge.",
      },
    ]);
    expect(pkg("bare_dist")[0]!.licenseDeclared).toBe("NOASSERTION");
    expect(pkg("libsqlite3-0")[0]).toMatchObject({
      sourceInfo: "built from the source package sqlite3 3.40.1-2",
    });
    expect(pkg("pip").map((p) => p.SPDXID)).toEqual(["SPDXRef-pypi-pip-24.0", "SPDXRef-pypi-pip-24.0-2"]);
    const contains = (doc.relationships as Record<string, string>[]).filter(
      (r) => r.relationshipType === "CONTAINS",
    );
    expect(contains).toHaveLength(packages.length - 1);
  });

  it("a broken document fails", async () => {
    const c = await collect(`oci:${fixture.layout}`);
    const doc = spdxDocument(c, { created: EPOCH, toolVersion: "1.2.3" });
    expect(spdxSchema()({ ...doc, creationInfo: { creators: [] } })).toBe(false);
    expect(spdxSchema()({ ...doc, spdxVersion: undefined })).toBe(false);
    const noRefs = { ...doc, hasExtractedLicensingInfos: [] };
    expect(spdxProblems(noRefs)).toContain(
      "SPDXRef-pypi-bsdish-1.0: LicenseRef-BSD-License is not in hasExtractedLicensingInfos",
    );
    expect(spdxProblems({ ...doc, documentNamespace: "urn:uuid:x#y" })).not.toEqual([]);
  });
});

describe("writeSbomFor and `slimwheel sbom`", () => {
  it("writes the file atomically; SOURCE_DATE_EPOCH gives identical bytes", async () => {
    const cwd = await tmp("write");
    const a = await writeSbomFor(`oci:${fixture.layout}`, { out: "a.cdx.json" }, ctxFor(cwd, EPOCH));
    const b = await writeSbomFor(`oci:${fixture.layout}`, { out: "b.cdx.json" }, ctxFor(cwd, EPOCH));
    expect(await readFile(a.path, "utf8")).toBe(await readFile(b.path, "utf8"));
    expect((await readdir(cwd)).sort()).toEqual(["a.cdx.json", "b.cdx.json"]);
    const s = await writeSbomFor(`oci:${fixture.layout}`, { out: "s.json", format: "spdx" }, ctxFor(cwd));
    const doc = JSON.parse(await readFile(s.path, "utf8"));
    // No SOURCE_DATE_EPOCH: now.
    expect(doc.creationInfo.created).toBe("2027-01-15T08:00:00Z");
    expect(spdxSchema()(doc)).toBe(true);
  });

  it("the command writes CycloneDX by default, SPDX with --format spdx, to stdout without -o", async () => {
    const cwd = await tmp("cli");
    const env = { SOURCE_DATE_EPOCH: String(EPOCH) };
    const r = await runCli(["sbom", `oci:${fixture.layout}`, "-o", "out.json"], { cwd, env });
    expect(r.code, r.stderr).toBe(0);
    const bom = JSON.parse(await readFile(join(cwd, "out.json"), "utf8"));
    expect(cyclonedxSchema()(bom)).toBe(true);
    expect(r.stderr).toContain("out.json");
    const s = await runCli(["sbom", `oci:${fixture.layout}`, "--format", "spdx"], { cwd, env });
    expect(s.code, s.stderr).toBe(0);
    expect(spdxSchema()(JSON.parse(s.stdout))).toBe(true);
    const named = await runCli(["sbom", `oci:${fixture.layout}`, "--name", "registry.example/shop"], {
      cwd,
      env,
    });
    expect(JSON.parse(named.stdout).metadata.component).toMatchObject({
      name: "registry.example/shop",
      purl: `pkg:oci/shop@${fixture.digest.replace(":", "%3A")}?arch=amd64&repository_url=registry.example/shop`,
    });
    const bad = await runCli(["sbom", `oci:${fixture.layout}`, "--format", "swid"], { cwd, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown SBOM format "swid"');
    const missing = await runCli(["sbom", "oci:does-not-exist"], { cwd, env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("does not exist");
    expect(missing.stderr).not.toContain("    at ");
  });
});

describe("attachSbom", () => {
  it("pushes the written SBOM as a referrer of the pushed image", async () => {
    const reg = await new FakeRegistry().start();
    try {
      const o = { env: {}, insecure: true, backoffMs: 1, credentials: async () => undefined };
      const image = await loadLayoutImage(fixture.layout);
      await pushImage(image, `${reg.host}/demo/app:1`, o);
      const written = await writeSbomFor(
        `oci:${fixture.layout}`,
        { out: "app.cdx.json" },
        ctxFor(await tmp("attach"), EPOCH),
      );
      const r = await attachSbom(`${reg.host}/demo/app:1`, image.manifest.descriptor, written, {
        ...o,
        created: EPOCH,
      });
      const stored = JSON.parse(reg.manifests.get("demo/app")!.get(r.digest)!.bytes.toString());
      expect(stored).toMatchObject({
        artifactType: "application/vnd.cyclonedx+json",
        subject: { digest: fixture.digest },
        layers: [
          {
            mediaType: "application/vnd.cyclonedx+json",
            annotations: { "org.opencontainers.image.title": "app.cdx.json" },
          },
        ],
      });
      const blob = reg.blobs.get("demo/app")!.get(stored.layers[0].digest)!;
      expect(blob.toString()).toBe(written.text);
    } finally {
      await reg.stop();
    }
  });
});

describe("pieces", () => {
  it("reads METADATA headers only, continuation lines joined", () => {
    const d = distributionFromMetadata("Name: x\nVersion: 1\nLicense: A\n        B\n\nLicense: body text\n");
    expect(d).toMatchObject({ name: "x", version: "1", license: "A\nB" });
  });

  it("any file contents give schema-valid documents, never an exception (property)", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc
        .array(
          fc.tuple(
            fc.constantFrom(
              "Package",
              "Version",
              "Architecture",
              "Status",
              "Source",
              "Name",
              "License",
              "Classifier",
              "License-Expression",
              "ID",
              "VERSION_ID",
              " cont",
              "",
            ),
            fc.string({ maxLength: 30 }),
          ),
          { maxLength: 12 },
        )
        .map((fields) => fields.map(([k, v]) => `${k}: ${v}`).join("\n")),
    );
    const paths = fc.constantFrom(
      "etc/os-release",
      "var/lib/dpkg/status",
      "var/lib/dpkg/status.d/x",
      `${SP}/a-1.dist-info/METADATA`,
      `${SP}/a-1.dist-info/RECORD`,
      `${SP}/b.egg-info`,
      `${SP}/-.dist-info/METADATA`,
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(paths, text), { maxLength: 6 }), (entries) => {
        const files = new Map(entries.map(([p, t]) => [p, { text: t, sha256: sha(t) }]));
        const c = contentsFromFiles(files, { ref: "oci:x", manifestDigest: `sha256:${"0".repeat(64)}` });
        const o = { created: EPOCH, toolVersion: "1.2.3" };
        const bom = cyclonedxBom(c, o);
        const doc = spdxDocument(c, o);
        expect(cyclonedxSchema()(bom), JSON.stringify(cyclonedxSchema().errors)).toBe(true);
        expect(cyclonedxProblems(bom)).toEqual([]);
        expect(spdxSchema()(doc)).toBe(true);
        expect(spdxProblems(doc)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("checks the syntax of a License-Expression; its LicenseRefs are listed in SPDX", () => {
    for (const ok of [
      "MIT",
      "MIT OR Apache-2.0",
      "(MIT OR Apache-2.0) AND BSD-3-Clause",
      "GPL-2.0+ WITH Classpath-exception-2.0",
      "LicenseRef-Proprietary",
    ])
      expect(isSpdxExpression(ok), ok).toBe(true);
    for (const bad of ["", "MIT OR", "AND MIT", "(MIT", "MIT)", "MIT Apache-2.0", "MIT/Apache", "MIT OR ()"])
      expect(isSpdxExpression(bad), bad).toBe(false);
    const dist = (licenseExpression: string) => ({
      name: "p",
      version: "1",
      path: "/x",
      licenseExpression,
      licenseClassifiers: [],
    });
    const contents = {
      ref: "oci:x",
      python: [dist("MIT AND LicenseRef-Proprietary"), dist("MIT/Apache")],
      deb: [],
    };
    const doc = spdxDocument(contents, { created: EPOCH, toolVersion: "1" });
    expect(spdxProblems(doc)).toEqual([]);
    expect((doc.packages as Record<string, unknown>[]).map((p) => p.licenseDeclared)).toEqual([
      "NOASSERTION",
      "MIT AND LicenseRef-Proprietary",
      "LicenseRef-MIT-Apache",
    ]);
    const bom = cyclonedxBom(contents, { created: EPOCH, toolVersion: "1" });
    expect((bom.components as Record<string, unknown>[]).map((c) => c.licenses)).toEqual([
      [{ expression: "MIT AND LicenseRef-Proprietary" }],
      [{ license: { name: "MIT/Apache" } }],
    ]);
  });

  it("names the file beside an output, and parses the format", () => {
    expect(sbomPathBeside("/out/app.tar", "cyclonedx")).toBe("/out/app.tar.cdx.json");
    expect(sbomPathBeside("/out/layout/", "spdx")).toBe("/out/layout.spdx.json");
    expect(parseSbomFormat("spdx")).toBe("spdx");
    expect(() => parseSbomFormat("CycloneDX")).toThrow(expect.objectContaining({ code: "usage" }));
  });

  it("UUIDs are version 5 and stable", () => {
    expect(contentUuid("a")).toBe(contentUuid("a"));
    expect(contentUuid("a")).not.toBe(contentUuid("b"));
    expect(contentUuid("a")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
