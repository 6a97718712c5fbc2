import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { writeLayerBlob } from "./blob.js";
import { FakeRegistry } from "./fake-registry.testutil.js";
import { assembleImage, type StoredImage, writeOciLayout } from "./image-writer.js";
import { readLayout } from "./layout.js";
import {
  credentialsFromDockerConfig,
  dockerCredentials,
  mergeScopes,
  parseDockerConfig,
  parseImageRef,
  parseWwwAuthenticate,
  pullImage,
  pushImage,
  type RegistryOptions,
  retryAfterMs,
} from "./registry.js";
import { layerTar } from "./tar-writer.js";

const tmpDirs: string[] = [];
const tmp = async (name: string) => {
  const d = await mkdtemp(join(tmpdir(), `reg-${name}-`));
  tmpDirs.push(d);
  return d;
};
const registries: FakeRegistry[] = [];
const fake = async (o?: ConstructorParameters<typeof FakeRegistry>[0]) => {
  const r = await new FakeRegistry(o).start();
  registries.push(r);
  return r;
};
afterEach(async () => {
  for (const r of registries.splice(0)) await r.stop();
});
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

let img: StoredImage;
beforeAll(async () => {
  const store = await tmp("store");
  // 300 kB that gzip cannot shrink: a sha256 chain
  const parts: Buffer[] = [createHash("sha256").update("seed").digest()];
  while (parts.length < 300_000 / 32) parts.push(createHash("sha256").update(parts.at(-1)!).digest());
  const big = Buffer.concat(parts);
  const deps = await writeLayerBlob(
    layerTar([{ path: "opt/deps/blob.bin", type: "file", content: big }], { sourceDateEpoch: 0 }),
    store,
  );
  const app = await writeLayerBlob(
    layerTar([{ path: "app/main.py", type: "file", content: Buffer.from("print(1)\n") }], {
      sourceDateEpoch: 0,
    }),
    store,
  );
  img = await assembleImage({
    layers: [{ blob: deps }, { blob: app }],
    config: { cmd: ["python", "/app/main.py"] },
    created: 0,
    store,
  });
});

const noCreds: RegistryOptions = {
  env: {},
  insecure: true,
  backoffMs: 1,
  credentials: async () => undefined,
};

describe("parseImageRef", () => {
  it("splits host, port, repository, tag and digest", () => {
    expect(parseImageRef("127.0.0.1:5000/demo/app:1.0")).toEqual({
      registry: "127.0.0.1:5000",
      repository: "demo/app",
      tag: "1.0",
      digest: undefined,
    });
    const d = `sha256:${"a".repeat(64)}`;
    expect(parseImageRef(`localhost/app@${d}`)).toMatchObject({
      registry: "localhost",
      repository: "app",
      digest: d,
    });
    expect(parseImageRef("python:3.12-slim")).toMatchObject({
      registry: "docker.io",
      repository: "library/python",
      tag: "3.12-slim",
    });
    expect(parseImageRef("[::1]:5000/x")).toMatchObject({ registry: "[::1]:5000", repository: "x" });
  });

  it("refuses bad references as usage errors with a hint", () => {
    for (const bad of ["127.0.0.1:5000/App", "127.0.0.1:5000/app:", "host.io/app@sha256:12", ""])
      expect(() => parseImageRef(bad)).toThrow(
        expect.objectContaining({ code: "usage", hint: expect.stringContaining("HOST[:PORT]/NAME") }),
      );
  });
});

describe("authentication headers and Docker config", () => {
  it("parses WWW-Authenticate challenges", () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.example.invalid/token",service="registry.example.invalid",scope="repository:a/b:pull,push"',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.example.invalid/token",
          service: "registry.example.invalid",
          scope: "repository:a/b:pull,push",
        },
      },
    ]);
    expect(
      parseWwwAuthenticate(
        'Basic realm="say \\"hi\\", please", Bearer realm=http://x/t , error=insufficient_scope',
      ),
    ).toEqual([
      { scheme: "basic", params: { realm: 'say "hi", please' } },
      { scheme: "bearer", params: { realm: "http://x/t", error: "insufficient_scope" } },
    ]);
    expect(parseWwwAuthenticate("")).toEqual([]);
  });

  it("joins the actions of token scopes per resource", () => {
    expect(mergeScopes(["repository:a:pull,push", "repository:a:pull", "repository:b:pull"])).toEqual([
      "repository:a:pull,push",
      "repository:b:pull",
    ]);
  });

  it("reads Retry-After as seconds or a date", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs("Wed, 21 Oct 2015 07:28:05 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(
      5000,
    );
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs("soon")).toBeUndefined();
  });

  it("finds credentials in auths (base64 auth, any key form), identity tokens, and refuses bad JSON", async () => {
    const config = parseDockerConfig(
      JSON.stringify({
        auths: {
          "https://127.0.0.1:5000": { auth: Buffer.from("alice:s3cr:et").toString("base64") },
          "127.0.0.2:5000": { identitytoken: "tok" },
          "http://127.0.0.3:5000/v2/": { username: "bob", password: "pw" },
        },
      }),
      "/home/u/.docker/config.json",
    );
    expect(await dockerCredentials("127.0.0.1:5000", config, {})).toEqual({
      username: "alice",
      password: "s3cr:et",
    });
    expect(await dockerCredentials("127.0.0.2:5000", config, {})).toEqual({ identityToken: "tok" });
    expect(await dockerCredentials("127.0.0.3:5000", config, {})).toEqual({
      username: "bob",
      password: "pw",
    });
    expect(await dockerCredentials("127.0.0.9:5000", config, {})).toBeUndefined();
    expect(() => parseDockerConfig("{ not json", "/home/u/.docker/config.json")).toThrow(
      expect.objectContaining({
        code: "input",
        message: expect.stringContaining("/home/u/.docker/config.json"),
      }),
    );
    const bad = parseDockerConfig(
      JSON.stringify({ auths: { h: { auth: Buffer.from("nocolon").toString("base64") } } }),
      "c.json",
    );
    await expect(dockerCredentials("h", bad, {})).rejects.toMatchObject({
      code: "input",
      hint: expect.stringContaining("docker login h"),
    });
  });

  it("asks credential helpers (credHelpers, then credsStore) through docker-credential-NAME get", async () => {
    const bin = await tmp("bin");
    // A real helper program speaking the docker-credential-helpers protocol.
    const helper = `#!/bin/sh
read host
case "$host" in
  127.0.0.1:*) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-pass"}' "$host" ;;
  127.0.0.2:*) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh"}' "$host" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
    await writeFile(join(bin, "docker-credential-fake"), helper);
    await chmod(join(bin, "docker-credential-fake"), 0o755);
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const helpers = parseDockerConfig(
      JSON.stringify({ credHelpers: { "127.0.0.1:5000": "fake" } }),
      "c.json",
    );
    expect(await dockerCredentials("127.0.0.1:5000", helpers, env)).toEqual({
      username: "helper-user",
      password: "helper-pass",
    });
    const store = parseDockerConfig(
      JSON.stringify({ credsStore: "fake", auths: { "127.0.0.4:1": {} } }),
      "c.json",
    );
    expect(await dockerCredentials("127.0.0.2:5000", store, env)).toEqual({ identityToken: "refresh" });
    expect(await dockerCredentials("127.0.0.5:5000", store, env)).toBeUndefined();
    const missing = parseDockerConfig(JSON.stringify({ credsStore: "absent-helper" }), "c.json");
    await expect(dockerCredentials("127.0.0.1:5000", missing, env)).rejects.toMatchObject({
      message: expect.stringContaining("docker-credential-absent-helper"),
    });
    // the file itself, found through DOCKER_CONFIG
    const dir = await tmp("dockercfg");
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify({ auths: { "127.0.0.1:7": { auth: Buffer.from("u:p").toString("base64") } } }),
    );
    expect(await credentialsFromDockerConfig("127.0.0.1:7", { DOCKER_CONFIG: dir })).toEqual({
      username: "u",
      password: "p",
    });
    expect(
      await credentialsFromDockerConfig("127.0.0.1:7", { DOCKER_CONFIG: join(dir, "none") }),
    ).toBeUndefined();
  });
});

describe("push and pull against a loopback registry", { timeout: 30_000 }, () => {
  it("pushes every blob once: a second push uploads nothing; a pull verifies every digest", async () => {
    const reg = await fake();
    const reports: string[] = [];
    const first = await pushImage(img, `${reg.host}/demo/app:1.0`, {
      ...noCreds,
      onBlob: (b) => reports.push(`${b.status} ${b.digest}`),
    });
    expect(first.digest).toBe(img.manifest.descriptor.digest);
    expect(first.blobs.map((b) => b.status)).toEqual(["uploaded", "uploaded", "uploaded"]);
    expect(reports).toHaveLength(3);
    expect(reg.manifests.get("demo/app")?.get("1.0")?.bytes.equals(img.manifest.bytes)).toBe(true);
    expect(reg.manifests.get("demo/app")?.has(first.digest)).toBe(true);
    expect(reg.blobs.get("demo/app")?.size).toBe(3);

    const before = reg.writes().length;
    const second = await pushImage(img, `${reg.host}/demo/app:1.0`, noCreds);
    expect(second.blobs.map((b) => b.status)).toEqual(["skipped", "skipped", "skipped"]);
    const blobWrites = reg
      .writes()
      .slice(before)
      .filter((l) => l.path.includes("/blobs/"));
    expect(blobWrites).toEqual([]);

    const store = await tmp("pull");
    const pulled = await pullImage(`${reg.host}/demo/app:1.0`, store, noCreds);
    expect(pulled.manifest.descriptor.digest).toBe(first.digest);
    const out = join(await tmp("pulled"), "layout");
    await writeOciLayout(pulled, out, { refName: "1.0" });
    const summary = await readLayout(out); // checks sizes and diff_ids
    expect(summary.digest).toBe(first.digest);
    expect(summary.layers).toHaveLength(2);
    const layer0 = img.manifestJson.layers[0]!.digest;
    const same = (await readFile(pulled.blobs.get(layer0)!)).equals(await readFile(img.blobs.get(layer0)!));
    expect(same).toBe(true);
  });

  it("refuses a blob whose file is not the size its descriptor says, before any upload", async () => {
    const reg = await fake();
    const layer0 = img.manifestJson.layers[0]!;
    const short = join(await tmp("short"), "blob");
    await writeFile(short, (await readFile(img.blobs.get(layer0.digest)!)).subarray(0, 1000));
    const lying = { ...img, blobs: new Map(img.blobs).set(layer0.digest, short) };
    await expect(pushImage(lying, `${reg.host}/lying:1`, noCreds)).rejects.toMatchObject({
      code: "input",
      message: expect.stringContaining(
        `the blob is 1000 bytes in ${short}, but its descriptor says ${layer0.size}`,
      ),
    });
    expect(reg.blobs.get("lying")?.has(layer0.digest) ?? false).toBe(false);
    expect(reg.manifests.get("lying")).toBeUndefined();
  });

  it("uploads a big blob in PATCH chunks", async () => {
    const reg = await fake();
    await pushImage(img, `${reg.host}/chunky:1`, { ...noCreds, chunkSize: 100_000 });
    const big = img.manifestJson.layers[0]!;
    expect(big.size).toBeGreaterThan(200_000);
    const patches = reg.log.filter((l) => l.method === "PATCH");
    expect(patches).toHaveLength(Math.ceil(big.size / 100_000));
    expect(reg.blobs.get("chunky")?.get(big.digest)?.length).toBe(big.size);
  });

  it("completes a push through 500s, 429s and dropped connections, reporting each retry", async () => {
    const reg = await fake();
    reg.faults.push(
      { method: "HEAD", kind: 429, times: 2 },
      { method: "POST", kind: 500 },
      { method: "PUT", path: /\/blobs\/uploads\//, kind: "drop" },
      { method: "PUT", path: /\/manifests\//, kind: 500, times: 2 },
      { method: "GET", path: /\/blobs\//, kind: "drop" },
    );
    const retries: string[] = [];
    const r = await pushImage(img, `${reg.host}/flaky:1`, {
      ...noCreds,
      onRetry: (what, n, why) => retries.push(`${n} ${why} ${what}`),
    });
    expect(r.blobs.map((b) => b.status)).toEqual(["uploaded", "uploaded", "uploaded"]);
    expect(
      reg.log.filter((l) => l.status === "dropped" || l.status === 500 || l.status === 429),
    ).toHaveLength(6);
    expect(retries).toHaveLength(6);
    expect(retries.join("\n")).toMatch(/HTTP 429/);
    expect(retries.join("\n")).toMatch(/ECONNRESET|UND_ERR_SOCKET|other side closed/);
    const pulled = await pullImage(`${reg.host}/flaky:1`, await tmp("flaky"), {
      ...noCreds,
      onRetry: () => {},
    });
    expect(pulled.manifest.descriptor.digest).toBe(r.digest);
    expect(reg.faults.every((f) => f.times === 0)).toBe(true);
  });

  it("pulls again a blob whose download broke off halfway", async () => {
    const reg = await fake();
    await pushImage(img, `${reg.host}/cut:1`, noCreds);
    const big = img.manifestJson.layers[0]!.digest;
    reg.faults.push({ method: "GET", path: new RegExp(big), kind: "truncate" });
    const retries: string[] = [];
    const pulled = await pullImage(`${reg.host}/cut:1`, await tmp("cut"), {
      ...noCreds,
      onRetry: (what, _n, why) => retries.push(`${what}: ${why}`),
    });
    expect(pulled.manifest.descriptor.digest).toBe(img.manifest.descriptor.digest);
    expect(retries).toEqual([expect.stringContaining(`pulling blob ${big}`)]);
    expect(reg.log.filter((l) => l.method === "GET" && l.path.includes(big))).toHaveLength(2);
  });

  it("explains a 403 as a permission problem of the account", async () => {
    const reg = await fake();
    reg.faults.push({ method: "POST", kind: 403 });
    await expect(pushImage(img, `${reg.host}/team/locked:1`, noCreds)).rejects.toMatchObject({
      code: "network",
      message: expect.stringContaining(
        `registry ${reg.host} denied access to team/locked (HTTP 403: DENIED: no push)`,
      ),
      hint: expect.stringContaining("may not push or pull team/locked"),
    });
  });

  it("gives up after the bounded number of attempts with a network error naming the operation", async () => {
    const reg = await fake();
    reg.faults.push({ method: "HEAD", kind: 500, times: 100 });
    await expect(pushImage(img, `${reg.host}/down:1`, { ...noCreds, attempts: 3 })).rejects.toMatchObject({
      code: "network",
      message: expect.stringMatching(
        new RegExp(`checking blob sha256:[0-9a-f]+ in ${reg.host}/down: .*HTTP 500`),
      ),
    });
    expect(reg.log.filter((l) => l.method === "HEAD")).toHaveLength(3);
  });

  it("refuses a corrupt blob on pull, and reports a missing tag as not-found", async () => {
    const reg = await fake();
    await pushImage(img, `${reg.host}/c:1`, noCreds);
    reg.corrupt.add(img.manifestJson.layers[1]!.digest);
    await expect(pullImage(`${reg.host}/c:1`, await tmp("corrupt"), noCreds)).rejects.toMatchObject({
      code: "network",
      message: expect.stringContaining(
        `expected ${img.manifestJson.layers[1]!.size} bytes with ${img.manifestJson.layers[1]!.digest}`,
      ),
    });
    await expect(pullImage(`${reg.host}/c:nope`, await tmp("missing"), noCreds)).rejects.toMatchObject({
      code: "not-found",
      message: expect.stringContaining(`${reg.host}/c:nope`),
      hint: expect.stringContaining(`${reg.host}/c`),
    });
  });

  it("answers a Basic challenge with credentials from the Docker config, and explains a 401", async () => {
    const reg = await fake({ auth: { scheme: "basic", user: "alice", password: "pw" } });
    const dir = await tmp("basic-cfg");
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from("alice:pw").toString("base64") } } }),
    );
    const r = await pushImage(img, `${reg.host}/private/app:1`, {
      env: { DOCKER_CONFIG: dir },
      insecure: true,
      backoffMs: 1,
    });
    expect(r.blobs.every((b) => b.status === "uploaded")).toBe(true);
    // after the first challenge every request carries the credentials
    const authed = reg.log.filter((l) => l.authorization?.startsWith("Basic "));
    expect(authed.length).toBeGreaterThan(reg.log.length - 2);

    await expect(pushImage(img, `${reg.host}/private/app:2`, noCreds)).rejects.toMatchObject({
      code: "network",
      message: expect.stringContaining(
        `registry ${reg.host} requires authentication for private/app (HTTP 401`,
      ),
      hint: expect.stringContaining(`docker login ${reg.host}`),
    });
  });

  it("gets Bearer tokens for the scopes it needs, and mounts blobs from another repository", async () => {
    const reg = await fake({ auth: { scheme: "bearer", user: "bob", password: "pw" } });
    const creds = { ...noCreds, credentials: async () => ({ username: "bob", password: "pw" }) };
    const a = await pushImage(img, `${reg.host}/team/base:1`, creds);
    expect(a.blobs.map((b) => b.status)).toEqual(["uploaded", "uploaded", "uploaded"]);
    expect(reg.tokenRequests[0]?.get("service")).toBe("fake-registry");
    expect(reg.tokenRequests[0]?.getAll("scope")).toEqual(["repository:team/base:pull,push"]);

    const b = await pushImage(img, `${reg.host}/team/app:1`, { ...creds, mountFrom: "team/base" });
    expect(b.blobs.map((x) => x.status)).toEqual(["mounted", "mounted", "mounted"]);
    expect(reg.tokenRequests.some((q) => q.getAll("scope").includes("repository:team/base:pull"))).toBe(true);
    expect(
      reg.log.filter(
        (l) => l.method === "PUT" && l.path.includes("/blobs/uploads/") && l.path.includes("team/app"),
      ),
    ).toEqual([]);

    // wrong password: the token service refuses, and the error says what to do
    await expect(
      pushImage(img, `${reg.host}/team/app:2`, {
        ...creds,
        credentials: async () => ({ username: "bob", password: "x" }),
      }),
    ).rejects.toMatchObject({
      code: "network",
      message: expect.stringContaining(`registry ${reg.host} requires authentication for team/app`),
      hint: expect.stringContaining(`docker login ${reg.host}`),
    });
  });

  it("says --insecure may be needed when nothing listens or TLS fails", async () => {
    const reg = await fake();
    await expect(
      pushImage(img, `${reg.host}/x:1`, { ...noCreds, insecure: false, attempts: 1 }),
    ).rejects.toMatchObject({
      code: "network",
      message: expect.stringContaining(`cannot reach ${reg.host}`),
    });
    await reg.stop();
    await mkdir(await tmp("unused"), { recursive: true });
    await expect(pushImage(img, `${reg.host}/x:1`, { ...noCreds, attempts: 2 })).rejects.toMatchObject({
      code: "network",
      message: expect.stringContaining("after 2 attempts"),
      hint: expect.stringContaining(`http://${reg.host}`),
    });
  });
});
