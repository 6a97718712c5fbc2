/**
 * Private registries for the registry tests: Debian's `docker-registry` (the CNCF distribution
 * server) started on a free loopback port with its config and storage in a temporary directory —
 * never the shared test bed's — optionally with TLS (a CA and a server certificate made here with
 * openssl) and htpasswd authentication (bcrypt hashes from perl's crypt(3), see `bcryptHash`);
 * a fault-injecting HTTP proxy in front of one; and small images to push.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { writeLayerBlob } from "../../src/oci/blob.js";
import { assembleImage, type StoredImage } from "../../src/oci/image-writer.js";
import { layerTar } from "../../src/oci/tar-writer.js";

export const REGISTRY_BIN = "/usr/bin/docker-registry";

/** Why the registry tests cannot run here, or undefined. */
export function registryMissing(): string | undefined {
  if (!existsSync(REGISTRY_BIN)) return `${REGISTRY_BIN} is not installed (apt-get install docker-registry)`;
  return undefined;
}

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input });
  if (r.error || r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

/**
 * A bcrypt hash (`$2b$`) of `password`, which is what docker-registry's htpasswd reader accepts
 * (it refuses the MD5/SHA crypts that `openssl passwd` makes). `htpasswd -B` (apache2-utils) is
 * not on every machine, so this asks perl's `crypt`, i.e. libcrypt (libxcrypt on Debian 12, which
 * implements bcrypt): perl-base is Essential in Debian. The salt is 22 characters of bcrypt's
 * base64 alphabet; cost 5 keeps it fast.
 */
export function bcryptHash(password: string): string {
  const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let salt = "";
  for (let i = 0; i < 21; i++) salt += alphabet[Math.floor(Math.random() * 64)];
  salt += "."; // the last character carries only 2 bits: "." keeps them zero, as bcrypt expects
  const hash = run("perl", ["-e", "print crypt($ARGV[0], $ARGV[1])", password, `$2b$05$${salt}`]).trim();
  if (!hash.startsWith("$2b$05$") || hash.length !== 60)
    throw new Error(`perl's crypt made no bcrypt hash (libcrypt without bcrypt?): ${hash}`);
  return hash;
}

export interface Tls {
  /** PEM file of the CA that signed the server certificate. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it, in `dir`. */
export async function makeTls(dir: string): Promise<Tls> {
  await mkdir(dir, { recursive: true });
  const f = (n: string) => join(dir, n);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=slimwheel test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  run("openssl", [
    "req",
    ...ec,
    "-keyout",
    f("server.key"),
    "-out",
    f("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await writeFile(
    f("server.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
  );
  run("openssl", [
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.crt"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("server.crt"),
    "-days",
    "2",
    "-extfile",
    f("server.ext"),
  ]);
  return { caFile: f("ca.crt"), certFile: f("server.crt"), keyFile: f("server.key") };
}

export interface RegistryProcess {
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly stop: () => Promise<void>;
  /** What it printed on stderr so far. */
  readonly stderr: () => string;
}

/** `docker-registry serve` on a free loopback port, storage in `dir`; TLS and htpasswd when given. */
export async function startRegistry(
  dir: string,
  o: { tls?: Tls; users?: Record<string, string> } = {},
): Promise<RegistryProcess> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const lines = [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(dir, "data")}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${host}`,
    `  secret: ${"s".repeat(32)}`,
  ];
  if (o.tls) lines.push("  tls:", `    certificate: ${o.tls.certFile}`, `    key: ${o.tls.keyFile}`);
  if (o.users) {
    const file = join(dir, "htpasswd");
    await writeFile(
      file,
      Object.entries(o.users)
        .map(([u, p]) => `${u}:${bcryptHash(p)}\n`)
        .join(""),
    );
    lines.push("auth:", "  htpasswd:", "    realm: slimwheel-test", `    path: ${file}`);
  }
  await writeFile(join(dir, "config.yml"), `${lines.join("\n")}\n`);
  const proc: ChildProcess = spawn(REGISTRY_BIN, ["serve", join(dir, "config.yml")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const stop = async () => {
    if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = await probe(`${o.tls ? "https" : "http"}://${host}/v2/`, o.tls?.caFile).catch(() => 0);
    if (status === 200 || status === 401) break;
    if (Date.now() > deadline || proc.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry did not come up on ${host}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, stop, stderr: () => stderr };
}

/** The status of a GET of `url` (https trusting `caFile`). */
function probe(url: string, caFile?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ca = caFile ? [spawnSync("cat", [caFile], { encoding: "utf8" }).stdout] : undefined;
    const req = (url.startsWith("https") ? httpsRequest : httpRequest)(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// The fault-injecting proxy

export interface ProxyFault {
  readonly method: string;
  /** Matched against the path and query of the request. */
  readonly url: RegExp;
  /**
   * `drop`: the connection is destroyed after the request body arrived, before it is forwarded;
   * `drop-after`: the request is forwarded and done by the registry, then the connection is
   * destroyed before its answer reaches the client (the answer is lost, the effect is not);
   * `corrupt`: forwarded, and the answer's body passed on with one byte changed;
   * `slow`: forwarded after `delayMs` (a slow link, to interrupt a push while it waits).
   */
  readonly kind: 500 | "drop" | "drop-after" | "corrupt" | "slow";
  /** For `slow`: how long the request waits before it is forwarded (default 5000 ms). */
  readonly delayMs?: number;
  /** How many matching requests pass untouched first (default 0). */
  skip?: number;
  /** How many matching requests get it (default 1). */
  times?: number;
}

export interface ProxiedRequest {
  readonly method: string;
  readonly url: string;
  /** The upstream's status, or what the proxy did instead. */
  readonly outcome: number | "dropped" | "dropped after" | "corrupted" | "injected 500" | "delayed";
}

/**
 * An HTTP proxy on a free loopback port in front of `upstream` (host:port, plain HTTP): every
 * request is logged; those matching a fault get it instead of being forwarded. The Host header is
 * passed on, so the registry's upload Locations point back through the proxy.
 */
export class FaultProxy {
  readonly log: ProxiedRequest[] = [];
  readonly faults: ProxyFault[] = [];
  private server: Server | undefined;
  host = "";

  constructor(private readonly upstream: string) {}

  async start(): Promise<this> {
    const [uHost, uPort] = this.upstream.split(":");
    this.server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const method = req.method ?? "GET";
        const url = req.url ?? "/";
        let fault = this.faults.find((f) => (f.times ?? 1) > 0 && f.method === method && f.url.test(url));
        if (fault && (fault.skip ?? 0) > 0) {
          fault.skip = (fault.skip ?? 0) - 1;
          fault = undefined;
        }
        if (fault) fault.times = (fault.times ?? 1) - 1;
        if (fault && (fault.kind === "drop" || fault.kind === 500)) {
          if (fault.kind === "drop") {
            this.log.push({ method, url, outcome: "dropped" });
            req.socket.destroy();
            return;
          }
          this.log.push({ method, url, outcome: "injected 500" });
          res.writeHead(500, { "content-type": "application/json" });
          res.end('{"errors":[{"code":"UNKNOWN","message":"injected by the test proxy"}]}');
          return;
        }
        const forward = () => {
          const up = httpRequest(
            { host: uHost, port: Number(uPort), method, path: url, headers: req.headers },
            (ur) => {
              if (fault?.kind === "drop-after") {
                this.log.push({ method, url, outcome: "dropped after" });
                ur.resume();
                ur.on("end", () => req.socket.destroy());
                return;
              }
              if (fault?.kind === "corrupt") {
                const parts: Buffer[] = [];
                ur.on("data", (c: Buffer) => parts.push(c));
                ur.on("end", () => {
                  const body = Buffer.concat(parts);
                  const i = body.length >> 1;
                  if (body.length) body[i] = (body[i] ?? 0) ^ 0xff;
                  this.log.push({ method, url, outcome: "corrupted" });
                  res.writeHead(ur.statusCode ?? 502, ur.headers);
                  res.end(body);
                });
                return;
              }
              this.log.push({ method, url, outcome: ur.statusCode ?? 0 });
              res.writeHead(ur.statusCode ?? 502, ur.headers);
              ur.pipe(res);
            },
          );
          up.on("error", (e) => {
            res.writeHead(502);
            res.end(String(e));
          });
          up.end(Buffer.concat(chunks));
        };
        if (fault?.kind === "slow") {
          this.log.push({ method, url, outcome: "delayed" });
          const wait = fault.delayMs ?? 5000;
          fault = undefined;
          setTimeout(forward, wait);
          return;
        }
        forward();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.host = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Requests that started a blob upload and that finished one (POST …/blobs/uploads/, PUT …?digest=). */
  uploads(): { started: ProxiedRequest[]; finished: ProxiedRequest[] } {
    return {
      started: this.log.filter((l) => l.method === "POST" && /\/blobs\/uploads\/(\?|$)/.test(l.url)),
      finished: this.log.filter(
        (l) => l.method === "PUT" && /\/blobs\/uploads\/.*[?&]digest=/.test(l.url) && l.outcome === 201,
      ),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Images

/**
 * An image of a shared base layer (`baseBytes` bytes, the same for every `appText`), a
 * dependencies layer, and an app layer holding `appText`: two images with different `appText`
 * differ in their top layer and config only.
 */
/** `n` deterministic bytes that gzip cannot shrink. */
function noise(n: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i * 32 < n; i++) parts.push(createHash("sha256").update(String(i)).digest());
  return Buffer.concat(parts).subarray(0, n);
}

export async function testImage(store: string, appText: string, baseBytes = 300_000): Promise<StoredImage> {
  const epoch = { sourceDateEpoch: 1_700_000_000 };
  const base = await writeLayerBlob(
    layerTar(
      [
        {
          path: "usr/lib/base.bin",
          type: "file",
          // incompressible (a sha256 counter stream), so the blob is as big as asked
          content: noise(baseBytes),
        },
      ],
      epoch,
    ),
    store,
  );
  const deps = await writeLayerBlob(
    layerTar(
      [{ path: "usr/local/lib/site-packages/dep.py", type: "file", content: Buffer.alloc(50_000, 7) }],
      epoch,
    ),
    store,
  );
  const app = await writeLayerBlob(
    layerTar([{ path: "app/main.py", type: "file", content: Buffer.from(appText) }], epoch),
    store,
  );
  return assembleImage({
    layers: [
      { blob: base, createdBy: "base" },
      { blob: deps, createdBy: "deps" },
      { blob: app, createdBy: "app" },
    ],
    config: { cmd: ["python", "/app/main.py"], labels: { "org.example.app": appText.slice(0, 20) } },
    created: 1_700_000_000,
    store,
  });
}
