/**
 * The parts of the registry client that need no server: WWW-Authenticate challenges as real
 * registries send them (quoted values holding commas, spaces and escapes; several challenges in
 * one header), and which certificate authorities are trusted for a host.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extraCertificates, parseWwwAuthenticate } from "./registry.js";

describe("WWW-Authenticate", () => {
  it("keeps commas inside quoted values: scopes with several actions, several scopes, realms", () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.example.invalid/token?a=1,b=2",service="registry.example.invalid",scope="repository:team/app:pull,push repository:base/python:pull"',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.example.invalid/token?a=1,b=2",
          service: "registry.example.invalid",
          scope: "repository:team/app:pull,push repository:base/python:pull",
        },
      },
    ]);
  });

  it("reads the error of an insufficient scope, mixed case schemes and spaces around =", () => {
    expect(
      parseWwwAuthenticate(
        'BEARER realm = "https://a.invalid/t" , error="insufficient_scope", scope="repository:x:pull,push,delete"',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: {
          realm: "https://a.invalid/t",
          error: "insufficient_scope",
          scope: "repository:x:pull,push,delete",
        },
      },
    ]);
  });

  it("splits several challenges, escaped quotes and backslashes included", () => {
    expect(
      parseWwwAuthenticate(
        'Basic realm="Registry \\"main\\", \\\\ west", charset="UTF-8", Bearer realm="https://t.invalid/"',
      ),
    ).toEqual([
      { scheme: "basic", params: { realm: 'Registry "main", \\ west', charset: "UTF-8" } },
      { scheme: "bearer", params: { realm: "https://t.invalid/" } },
    ]);
    // docker-registry's htpasswd challenge
    expect(parseWwwAuthenticate('Basic realm="slimwheel-test"')).toEqual([
      { scheme: "basic", params: { realm: "slimwheel-test" } },
    ]);
    // an unterminated quote ends the value at the end of the header, without throwing
    expect(parseWwwAuthenticate('Bearer realm="https://t.invalid/,service=x')).toEqual([
      { scheme: "bearer", params: { realm: "https://t.invalid/,service=x" } },
    ]);
  });
});

describe("extra certificate authorities", () => {
  let dir: string;
  let pem: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "registry-ca-"));
    const r = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "k"),
        "-out",
        join(dir, "ca.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=t",
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
    pem = (await readFile(join(dir, "ca.pem"), "utf8")).trim();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("takes --ca-cert files, SSL_CERT_FILE, NODE_EXTRA_CA_CERTS and certs.d/HOST[:PORT]/*.crt", async () => {
    const certsD = join(dir, "certs.d");
    await mkdir(join(certsD, "reg.invalid:5443"), { recursive: true });
    await writeFile(join(certsD, "reg.invalid:5443", "ca.crt"), `${pem}\n${pem}\n`);
    await writeFile(join(certsD, "reg.invalid:5443", "client.key"), "not a cert, not read");
    await mkdir(join(certsD, "other.invalid"), { recursive: true });
    await writeFile(join(certsD, "other.invalid", "ca.crt"), pem);
    const none = await extraCertificates("reg.invalid:5443", { env: {}, certsDirs: [join(dir, "absent")] });
    expect(none).toEqual([]);
    const all = await extraCertificates("reg.invalid:5443", {
      env: { SSL_CERT_FILE: join(dir, "ca.pem"), NODE_EXTRA_CA_CERTS: join(dir, "ca.pem") },
      caFiles: [join(dir, "ca.pem")],
      certsDirs: [certsD],
    });
    expect(all).toHaveLength(5);
    expect(all.every((c) => c === pem)).toBe(true);
  });

  it("refuses a file that is missing or holds no certificate as bad input", async () => {
    await writeFile(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n");
    await expect(
      extraCertificates("h", { env: {}, caFiles: [join(dir, "key.pem")], certsDirs: [] }),
    ).rejects.toMatchObject({
      code: "input",
      message: `--ca-cert: ${join(dir, "key.pem")} holds no PEM certificate`,
    });
    await expect(
      extraCertificates("h", { env: { SSL_CERT_FILE: join(dir, "nope") }, certsDirs: [] }),
    ).rejects.toMatchObject({
      code: "input",
      message: expect.stringMatching(/^SSL_CERT_FILE: cannot read .*nope: ENOENT/),
    });
  });
});
