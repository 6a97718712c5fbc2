/**
 * `slimwheel push` (the built CLI, dist/) to a real registry over TLS with htpasswd authentication:
 * a CA and a server certificate made here with openssl, bcrypt users, credentials from a Docker
 * config in a temporary DOCKER_CONFIG, the CA trusted through --ca-cert, SSL_CERT_FILE or a
 * certs.d directory. The registry is a private `docker-registry serve` on a free loopback port,
 * stopped after the tests (run alone: `npx vitest run --config vitest.registry.config.ts`).
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeOciLayout } from "../src/oci/image-writer.js";
import { pullImage } from "../src/oci/registry.js";
import { exec } from "../src/util/exec.js";
import {
  makeTls,
  type RegistryProcess,
  registryMissing,
  startRegistry,
  type Tls,
  testImage,
} from "./helpers/local-registry.js";

const BIN = join(import.meta.dirname, "..", "dist", "cli", "main.js");
const missing =
  registryMissing() ?? (existsSync(BIN) ? undefined : `${BIN} is missing: run \`npm run build\``);

describe.skipIf(missing !== undefined)("push over TLS to a registry with htpasswd auth", () => {
  let dir: string;
  let tls: Tls;
  let reg: RegistryProcess;
  let layout: string;
  let digest: string;
  let withCreds: string;
  let noCreds: string;
  let wrongCreds: string;

  const dockerConfig = async (name: string, auths: Record<string, unknown>) => {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, "config.json"), JSON.stringify({ auths }));
    return d;
  };
  const basic = (u: string, p: string) => ({ auth: Buffer.from(`${u}:${p}`).toString("base64") });

  /** The CLI with a clean environment: no CA variables, HOME and DOCKER_CONFIG in the temp dir. */
  const cli = (args: string[], env: Record<string, string> = {}) =>
    exec(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: join(dir, "home"), NO_COLOR: "1", ...env },
      allowFailure: true,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "registry-tls-"));
    tls = await makeTls(join(dir, "tls"));
    reg = await startRegistry(join(dir, "registry"), { tls, users: { alice: "s3cret-pw" } });
    const img = await testImage(join(dir, "store"), "print('tls')\n", 20_000);
    layout = join(dir, "layout");
    digest = await writeOciLayout(img, layout, { refName: "1.0" });
    withCreds = await dockerConfig("docker-ok", { [reg.host]: basic("alice", "s3cret-pw") });
    noCreds = await dockerConfig("docker-none", {});
    wrongCreds = await dockerConfig("docker-wrong", { [`https://${reg.host}`]: basic("alice", "nope") });
  });

  afterAll(async () => {
    await reg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("pushes with credentials from DOCKER_CONFIG and the CA given by --ca-cert; the image pulls back", async () => {
    const r = await cli(
      ["--json", "push", `oci:${layout}`, `${reg.host}/team/app:1.0`, "--ca-cert", tls.caFile],
      { DOCKER_CONFIG: withCreds },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { digest: string; blobs: { status: string }[] };
    expect(out.digest).toBe(digest);
    expect(out.blobs.map((b) => b.status)).toEqual(["uploaded", "uploaded", "uploaded", "uploaded"]);

    // pulled back by the library with the same trust and credentials, every blob checked
    const pulled = await pullImage(`${reg.host}/team/app:1.0`, join(dir, "pulled"), {
      env: { DOCKER_CONFIG: withCreds },
      caFiles: [tls.caFile],
      certsDirs: [],
    });
    expect(pulled.manifest.descriptor.digest).toBe(digest);
    expect(pulled.blobs.size).toBe(4);
  });

  it("trusts the CA from SSL_CERT_FILE, and from a certs.d directory of the registry's host", async () => {
    const viaEnv = await cli(["push", `oci:${layout}`, `${reg.host}/team/env:1`], {
      DOCKER_CONFIG: withCreds,
      SSL_CERT_FILE: tls.caFile,
    });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toContain(`pushed ${reg.host}/team/env:1@${digest}`);

    const certsDir = join(dir, "certs.d");
    await mkdir(join(certsDir, reg.host), { recursive: true });
    await copyFile(tls.caFile, join(certsDir, reg.host, "ca.crt"));
    const pulled = await pullImage(`${reg.host}/team/env:1`, join(dir, "pulled-certsd"), {
      env: { DOCKER_CONFIG: withCreds },
      certsDirs: [certsDir],
    });
    expect(pulled.manifest.descriptor.digest).toBe(digest);
  });

  it("fails with exit 1 and a docker login hint without credentials or with a wrong password", async () => {
    for (const config of [noCreds, wrongCreds]) {
      const r = await cli(["push", `oci:${layout}`, `${reg.host}/team/app:2`, "--ca-cert", tls.caFile], {
        DOCKER_CONFIG: config,
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(`registry ${reg.host} requires authentication for team/app \\(HTTP 401`),
      );
      const file = join(config, "config.json");
      expect(r.stderr).toContain(
        config === noCreds
          ? `; no credentials for ${reg.host} in ${file}\n`
          : `; the credentials for ${reg.host} in ${file} were refused\n`,
      );
      expect(r.stderr).toContain(
        `hint: run \`docker login ${reg.host}\` (credentials are read from ${file})`,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe("");
    }
    // --json: the same error as JSON on stdout
    const j = await cli(
      ["--json", "push", `oci:${layout}`, `${reg.host}/team/app:2`, "--ca-cert", tls.caFile],
      {
        DOCKER_CONFIG: noCreds,
      },
    );
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: "network" } });
  });

  it("fails with exit 1 and a --ca-cert hint when the CA is not trusted", async () => {
    const r = await cli(["push", `oci:${layout}`, `${reg.host}/team/app:3`], { DOCKER_CONFIG: withCreds });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /cannot reach 127\.0\.0\.1:\d+ \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)/,
    );
    expect(r.stderr).toContain("pass --ca-cert FILE");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses a --ca-cert that is not a PEM certificate as bad input (exit 2)", async () => {
    const bad = join(dir, "not-a-cert.pem");
    await writeFile(bad, "hello\n");
    const r = await cli(["push", `oci:${layout}`, `${reg.host}/team/app:4`, "--ca-cert", bad], {
      DOCKER_CONFIG: withCreds,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--ca-cert: ${bad} holds no PEM certificate`);
    const gone = await cli(
      ["push", `oci:${layout}`, `${reg.host}/team/app:4`, "--ca-cert", join(dir, "nope.pem")],
      {
        DOCKER_CONFIG: withCreds,
      },
    );
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain("cannot read");
  });
});

if (missing) console.log(`registry TLS tests skipped: ${missing}`);
