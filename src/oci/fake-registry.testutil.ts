/**
 * A tiny in-process distribution API on a loopback port, for tests of the registry client: blobs
 * (HEAD, GET, POST uploads with cross-repository mount, PATCH chunks, PUT), manifests (PUT, GET,
 * HEAD), Basic or Bearer authentication (with its own token endpoint), and faults injected on the
 * first matching requests: HTTP 500, HTTP 429 with Retry-After, or a dropped connection.
 * Everything it receives is recorded.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Fault {
  readonly method?: string;
  /** Matched against the request path (without query). */
  readonly path?: RegExp;
  /** `truncate`: a blob GET answered 200 with half its bytes, then the connection closed. */
  readonly kind: 500 | 429 | 403 | "drop" | "truncate";
  /** How many matching requests get the fault (default 1). */
  times?: number;
}

export interface Logged {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly status: number | "dropped";
  readonly authorization?: string;
}

export interface FakeRegistryOptions {
  readonly auth?: { readonly scheme: "basic" | "bearer"; readonly user: string; readonly password: string };
  /** Answer `GET /v2/NAME/referrers/DIGEST` (distribution-spec 1.1); without it, 404 as older registries do. */
  readonly referrersApi?: boolean;
}

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

export class FakeRegistry {
  readonly blobs = new Map<string, Map<string, Buffer>>();
  readonly manifests = new Map<string, Map<string, { bytes: Buffer; mediaType: string }>>();
  readonly log: Logged[] = [];
  readonly tokenRequests: URLSearchParams[] = [];
  readonly faults: Fault[] = [];
  /** Blobs served with their bytes changed (to test digest checks). */
  readonly corrupt = new Set<string>();
  private readonly uploads = new Map<string, { repo: string; data: Buffer[]; size: number }>();
  private readonly tokens = new Map<string, string[]>();
  private server: Server | undefined;
  host = "";

  constructor(private readonly o: FakeRegistryOptions = {}) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Requests that are not HEAD checks or token requests: what pushed data. */
  writes(): Logged[] {
    return this.log.filter((l) => ["POST", "PATCH", "PUT"].includes(l.method));
  }

  private repoBlobs(repo: string) {
    let m = this.blobs.get(repo);
    if (!m) {
      m = new Map();
      this.blobs.set(repo, m);
    }
    return m;
  }

  private repoManifests(repo: string) {
    let m = this.manifests.get(repo);
    if (!m) {
      m = new Map();
      this.manifests.set(repo, m);
    }
    return m;
  }

  private async body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** Whether the request may go on; answers 401 itself when not. */
  private authorized(req: IncomingMessage, res: ServerResponse, repo: string, push: boolean): boolean {
    const a = this.o.auth;
    if (!a) return true;
    const h = req.headers.authorization ?? "";
    if (a.scheme === "basic") {
      if (h === `Basic ${Buffer.from(`${a.user}:${a.password}`).toString("base64")}`) return true;
      res.setHeader("www-authenticate", 'Basic realm="fake registry"');
    } else {
      const scopes = this.tokens.get(h.replace(/^Bearer /, "")) ?? [];
      const ok = scopes.some((s) => {
        const [, name, actions] = /^repository:(.+):([a-z,]+)$/.exec(s) ?? [];
        return name === repo && (actions ?? "").split(",").includes(push ? "push" : "pull");
      });
      if (ok) return true;
      res.setHeader(
        "www-authenticate",
        `Bearer realm="http://${this.host}/token",service="fake-registry",scope="repository:${repo}:${push ? "pull,push" : "pull"}"`,
      );
    }
    this.reply(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] });
    return false;
  }

  private reply(res: ServerResponse, status: number, json?: unknown, headers: Record<string, string> = {}) {
    res.statusCode = status;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (json === undefined) res.end();
    else {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(json));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", `http://${this.host}`);
    const method = req.method ?? "GET";
    const path = url.pathname;
    const entry = { method, path, query: url.search, authorization: req.headers.authorization };
    const fault = this.faults.find(
      (f) => (f.times ?? 1) > 0 && (!f.method || f.method === method) && (!f.path || f.path.test(path)),
    );
    if (fault && fault.kind !== "truncate") {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.kind === "drop") {
        this.log.push({ ...entry, status: "dropped" });
        req.socket.destroy();
        return;
      }
      await this.body(req);
      this.log.push({ ...entry, status: fault.kind });
      if (fault.kind === 403)
        return this.reply(res, 403, { errors: [{ code: "DENIED", message: "no push" }] });
      if (fault.kind === 429)
        return this.reply(res, 429, { errors: [{ code: "TOOMANYREQUESTS" }] }, { "retry-after": "0" });
      return this.reply(res, 500, { errors: [{ code: "UNKNOWN", message: "injected" }] });
    }
    res.on("finish", () => this.log.push({ ...entry, status: res.statusCode }));

    if (path === "/token") {
      this.tokenRequests.push(url.searchParams);
      const a = this.o.auth!;
      if (req.headers.authorization !== `Basic ${Buffer.from(`${a.user}:${a.password}`).toString("base64")}`)
        return this.reply(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] });
      const token = randomUUID();
      this.tokens.set(token, url.searchParams.getAll("scope"));
      return this.reply(res, 200, { token });
    }
    if (path === "/v2/") return this.reply(res, 200, {});

    let m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path);
    if (m && (method === "HEAD" || method === "GET")) {
      const [, repo, digest] = m as unknown as [string, string, string];
      if (!this.authorized(req, res, repo, false)) return;
      const blob = this.repoBlobs(repo).get(digest);
      if (!blob) return this.reply(res, 404, { errors: [{ code: "BLOB_UNKNOWN" }] });
      res.setHeader("content-length", String(blob.length));
      res.setHeader("docker-content-digest", digest);
      res.statusCode = 200;
      if (method === "HEAD") return void res.end();
      if (fault?.kind === "truncate") {
        fault.times = (fault.times ?? 1) - 1;
        this.log.push({ ...entry, status: "dropped" });
        res.flushHeaders();
        res.write(blob.subarray(0, blob.length >> 1), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      const out = this.corrupt.has(digest) ? Buffer.from(blob).fill(0x41, 0, 1) : blob;
      return void res.end(out);
    }
    m = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(path);
    if (m && method === "POST") {
      const repo = m[1]!;
      if (!this.authorized(req, res, repo, true)) return;
      await this.body(req);
      const mount = url.searchParams.get("mount");
      const from = url.searchParams.get("from");
      if (mount && from) {
        const blob = this.blobs.get(from)?.get(mount);
        if (blob) {
          this.repoBlobs(repo).set(mount, blob);
          return this.reply(res, 201, undefined, { location: `/v2/${repo}/blobs/${mount}` });
        }
      }
      const id = randomUUID();
      this.uploads.set(id, { repo, data: [], size: 0 });
      return this.reply(res, 202, undefined, { location: `/v2/${repo}/blobs/uploads/${id}`, range: "0-0" });
    }
    m = /^\/v2\/(.+)\/blobs\/uploads\/([0-9a-f-]+)$/.exec(path);
    if (m && (method === "PATCH" || method === "PUT")) {
      const [, repo, id] = m as unknown as [string, string, string];
      if (!this.authorized(req, res, repo, true)) return;
      const up = this.uploads.get(id);
      const data = await this.body(req);
      if (!up || up.repo !== repo) return this.reply(res, 404, { errors: [{ code: "BLOB_UPLOAD_UNKNOWN" }] });
      if (method === "PATCH") {
        const range = /^(\d+)-(\d+)$/.exec(String(req.headers["content-range"] ?? ""));
        if (range && Number(range[1]) !== up.size)
          return this.reply(res, 416, { errors: [{ code: "BLOB_UPLOAD_INVALID", message: "bad range" }] });
      }
      up.data.push(data);
      up.size += data.length;
      if (method === "PATCH")
        return this.reply(res, 202, undefined, {
          location: `/v2/${repo}/blobs/uploads/${id}`,
          range: `0-${up.size - 1}`,
        });
      const digest = url.searchParams.get("digest") ?? "";
      const blob = Buffer.concat(up.data);
      if (sha(blob) !== digest) return this.reply(res, 400, { errors: [{ code: "DIGEST_INVALID" }] });
      this.uploads.delete(id);
      this.repoBlobs(repo).set(digest, blob);
      return this.reply(res, 201, undefined, {
        location: `/v2/${repo}/blobs/${digest}`,
        "docker-content-digest": digest,
      });
    }
    m = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(path);
    if (m && method === "GET" && this.o.referrersApi) {
      const [, repo, digest] = m as unknown as [string, string, string];
      if (!this.authorized(req, res, repo, false)) return;
      const manifests = [];
      for (const [ref, got] of this.repoManifests(repo)) {
        if (!ref.startsWith("sha256:")) continue;
        const j = JSON.parse(got.bytes.toString()) as { subject?: { digest: string }; artifactType?: string };
        if (j.subject?.digest === digest)
          manifests.push({
            mediaType: got.mediaType,
            digest: ref,
            size: got.bytes.length,
            artifactType: j.artifactType,
          });
      }
      res.statusCode = 200;
      res.setHeader("content-type", "application/vnd.oci.image.index.v1+json");
      return void res.end(
        JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }),
      );
    }
    m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (m) {
      const [, repo, ref] = m as unknown as [string, string, string];
      if (method === "PUT") {
        if (!this.authorized(req, res, repo, true)) return;
        const bytes = await this.body(req);
        const digest = sha(bytes);
        if (ref.startsWith("sha256:") && ref !== digest)
          return this.reply(res, 400, { errors: [{ code: "DIGEST_INVALID" }] });
        const j = JSON.parse(bytes.toString()) as {
          config?: { digest: string };
          layers?: { digest: string }[];
          manifests?: { digest: string }[];
        };
        for (const d of j.manifests ?? [])
          if (!this.repoManifests(repo).has(d.digest))
            return this.reply(res, 400, { errors: [{ code: "MANIFEST_UNKNOWN", message: d.digest }] });
        for (const d of j.manifests ? [] : [j.config!, ...(j.layers ?? [])])
          if (!this.repoBlobs(repo).has(d.digest))
            return this.reply(res, 400, { errors: [{ code: "MANIFEST_BLOB_UNKNOWN", message: d.digest }] });
        const stored = { bytes, mediaType: String(req.headers["content-type"]) };
        this.repoManifests(repo).set(ref, stored);
        this.repoManifests(repo).set(digest, stored);
        return this.reply(res, 201, undefined, {
          location: `/v2/${repo}/manifests/${digest}`,
          "docker-content-digest": digest,
        });
      }
      if (method === "GET" || method === "HEAD") {
        if (!this.authorized(req, res, repo, false)) return;
        const got = this.repoManifests(repo).get(ref);
        if (!got) return this.reply(res, 404, { errors: [{ code: "MANIFEST_UNKNOWN", message: ref }] });
        res.statusCode = 200;
        res.setHeader("content-type", got.mediaType);
        res.setHeader("docker-content-digest", sha(got.bytes));
        return void res.end(method === "GET" ? got.bytes : undefined);
      }
    }
    this.reply(res, 404, { errors: [{ code: "NOT_FOUND", message: `${method} ${path}` }] });
  }
}
