/**
 * A client of the OCI distribution API (distribution-spec `spec.md`) on node's fetch: push an
 * image (each blob checked with HEAD first, mounted from another repository when one is given,
 * else uploaded in one PUT or, when big, in PATCH chunks; the manifest put by tag and by digest)
 * and pull one (every blob checked against its digest).
 *
 * Authentication follows the registry's `WWW-Authenticate` challenge: Basic, or Bearer (a token
 * from the realm, for the scopes the operation needs), with credentials from the Docker config
 * (`auths`, `credHelpers`, `credsStore`). Requests are retried with exponential backoff on 5xx,
 * on 429 (honouring Retry-After) and on dropped connections, a bounded number of times.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { rootCertificates } from "node:tls";
import type { Agent } from "undici";
import { SlimwheelError } from "../errors.js";
import { type Env, exec } from "../util/exec.js";
import { blobFile, sha256, writeBytesBlob } from "./blob.js";
import type { StoredIndex } from "./image-index.js";
import type { ManifestJson, StoredImage } from "./image-writer.js";
import type { ImageConfigJson } from "./layout.js";
import { formatPlatform, type Platform } from "./platform.js";
import { type Descriptor, MediaType } from "./types.js";

// ---------------------------------------------------------------------------------------------
// References

export interface ImageRef {
  /** host[:port] as written (`docker.io` for Docker Hub). */
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `host[:port]/repo[:tag|@digest]`; without a host, Docker Hub (`docker.io`, `library/` for one name). */
export function parseImageRef(text: string): ImageRef {
  const bad = (why: string) =>
    new SlimwheelError("usage", `"${text}" is not an image reference: ${why}`, {
      hint: "write HOST[:PORT]/NAME[:TAG] or HOST[:PORT]/NAME@sha256:DIGEST, e.g. 127.0.0.1:5000/app:1.0",
    });
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`"${digest}" is not a sha256 digest`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }
  const parts = rest.split("/");
  const first = parts[0] ?? "";
  let registry = "docker.io";
  if (parts.length > 1 && (/[.:]/.test(first) || first === "localhost" || first.startsWith("["))) {
    registry = first;
    parts.shift();
  } else if (parts.length === 1) parts.unshift("library");
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p)))
    throw bad("the name must be lowercase letters, digits and separators (. _ - /)");
  return { registry, repository: parts.join("/"), tag, digest };
}

export const formatRef = (r: ImageRef) =>
  `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;

/** Whether `host` (host[:port]) is this machine. */
export const isLoopbackHost = (host: string) => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);

// ---------------------------------------------------------------------------------------------
// Authentication: challenges and credentials

export interface Challenge {
  /** Lowercase: `basic`, `bearer`. */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * The challenges of a `WWW-Authenticate` header (RFC 7235): `Bearer realm="…",service="…"`,
 * several comma-separated, quoted values with backslash escapes.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const s = header;
  const skip = (re: RegExp) => {
    while (i < s.length && re.test(s[i]!)) i++;
  };
  const token = () => {
    const start = i;
    skip(/[!#$%&'*+\-.^_`|~0-9A-Za-z]/);
    return s.slice(start, i);
  };
  while (i < s.length) {
    skip(/[\s,]/);
    const word = token();
    if (!word) {
      i++;
      continue;
    }
    skip(/\s/);
    if (s[i] === "=" && out.length > 0) {
      i++;
      skip(/\s/);
      let value: string;
      if (s[i] === '"') {
        i++;
        value = "";
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < s.length && s[i] !== "," && !/\s/.test(s[i]!)) i++;
        value = s.slice(start, i);
      }
      out.at(-1)!.params[word.toLowerCase()] = value;
    } else {
      out.push({ scheme: word.toLowerCase(), params: {} });
    }
  }
  return out;
}

export type Credentials =
  | { readonly username: string; readonly password: string }
  | { readonly identityToken: string };

interface AuthEntry {
  readonly auth?: string;
  readonly username?: string;
  readonly password?: string;
  readonly identitytoken?: string;
}

export interface DockerConfig {
  readonly auths: Readonly<Record<string, AuthEntry>>;
  readonly credHelpers: Readonly<Record<string, string>>;
  readonly credsStore?: string;
}

/** Where Docker keeps its config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: Env): string | undefined {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, "config.json");
  return env.HOME ? join(env.HOME, ".docker", "config.json") : undefined;
}

/** A Docker config file's text; `path` names it in errors. */
export function parseDockerConfig(text: string, path: string): DockerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SlimwheelError("input", `${path} is not valid JSON: ${(e as Error).message}`, {
      hint: "fix the file, or run `docker login` again to rewrite it",
      location: path,
      cause: e,
    });
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new SlimwheelError("input", `${path} is not a JSON object`, { location: path });
  const o = raw as Record<string, unknown>;
  const obj = (v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
  return {
    auths: obj(o.auths) as Record<string, AuthEntry>,
    credHelpers: obj(o.credHelpers) as Record<string, string>,
    credsStore: typeof o.credsStore === "string" && o.credsStore ? o.credsStore : undefined,
  };
}

/** The keys a Docker config may file a registry's credentials under. */
function configKeys(host: string): string[] {
  if (host === "docker.io" || host === "index.docker.io" || host === "registry-1.docker.io")
    return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"];
  return [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
}

const normalizeKey = (k: string) => k.replace(/^https?:\/\//, "").replace(/\/.*$/, "");

/** Credentials of `entry` (`auth` is base64 of `user:password`). */
function fromEntry(entry: AuthEntry, host: string, path: string): Credentials | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0)
      throw new SlimwheelError("input", `${path}: the "auth" of ${host} is not base64 of user:password`, {
        hint: `run \`docker login ${host}\` again`,
        location: path,
      });
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined)
    return { username: entry.username, password: entry.password };
  return undefined;
}

/** Runs `docker-credential-<helper> get` with `host` on stdin (the docker-credential-helpers protocol). */
async function fromHelper(helper: string, host: string, env: Env): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  const r = await exec(program, ["get"], {
    env,
    input: host,
    allowFailure: true,
    doing: `asking ${program} for the credentials of ${host}`,
    hint: `install ${program}, or remove it from ~/.docker/config.json`,
  });
  if (r.code !== 0) {
    if (/credentials not found/i.test(r.stdout + r.stderr)) return undefined;
    throw new SlimwheelError("engine", `${program} get failed for ${host} (exit ${r.code})`, {
      details: (r.stderr || r.stdout).trim(),
      hint: `run \`docker login ${host}\`, or check ${program}`,
    });
  }
  let out: { Username?: string; Secret?: string };
  try {
    out = JSON.parse(r.stdout) as typeof out;
  } catch (e) {
    throw new SlimwheelError("engine", `${program} get printed something that is not JSON`, {
      details: r.stdout.slice(0, 500),
      cause: e,
    });
  }
  if (!out.Secret) return undefined;
  if (out.Username === "<token>") return { identityToken: out.Secret };
  return { username: out.Username ?? "", password: out.Secret };
}

/** The credentials the Docker config gives for `host`: its cred helper, its credsStore, or `auths`. */
export async function dockerCredentials(
  host: string,
  config: DockerConfig,
  env: Env,
  path = "config.json",
): Promise<Credentials | undefined> {
  const keys = configKeys(host);
  const helper = keys.map((k) => config.credHelpers[k]).find(Boolean) ?? config.credHelpers[host];
  if (helper) return fromHelper(helper, host, env);
  const wanted = new Set(keys.map(normalizeKey));
  const entry =
    keys.map((k) => config.auths[k]).find(Boolean) ??
    Object.entries(config.auths).find(([k]) => wanted.has(normalizeKey(k)))?.[1];
  const found = entry ? fromEntry(entry, host, path) : undefined;
  if (found) return found;
  if (config.credsStore) return fromHelper(config.credsStore, host, env);
  return undefined;
}

/** Reads the Docker config of `env` (none: no credentials) and asks it about `host`. */
export async function credentialsFromDockerConfig(host: string, env: Env): Promise<Credentials | undefined> {
  const path = dockerConfigPath(env);
  if (!path) return undefined;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new SlimwheelError("io", `reading ${path}: ${(e as Error).message}`, { cause: e });
  }
  return dockerCredentials(host, parseDockerConfig(text, path), env, path);
}

// ---------------------------------------------------------------------------------------------
// Trusted certificate authorities

export const DEFAULT_CERTS_DIRS = ["/etc/docker/certs.d", "/etc/containers/certs.d"] as const;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates in `file`; `origin` says where the file was named, for errors. */
async function readPem(file: string, origin: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new SlimwheelError("input", `${origin}: cannot read ${file}: ${(e as Error).message}`, {
      hint: "give a PEM file of the registry's certificate authority",
      cause: e,
    });
  }
  const certs = text.match(PEM_CERT) ?? [];
  if (certs.length === 0)
    throw new SlimwheelError("input", `${origin}: ${file} holds no PEM certificate`, {
      hint: "give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----), e.g. `openssl x509 -in ca.der -inform der -out ca.pem`",
    });
  return certs;
}

/**
 * The extra certificate authorities to trust for `host`: `caFiles` (`--ca-cert`), the files of
 * `SSL_CERT_FILE` and `NODE_EXTRA_CA_CERTS`, and `*.crt` in `CERTS_DIR/HOST[:PORT]/` of each
 * certs directory (Docker's and podman's per-registry CA convention). Empty: the system's only.
 */
export async function extraCertificates(
  host: string,
  o: Pick<RegistryOptions, "caFiles" | "certsDirs" | "env">,
): Promise<string[]> {
  const out: string[] = [];
  for (const f of o.caFiles ?? []) out.push(...(await readPem(f, "--ca-cert")));
  for (const name of ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"] as const) {
    const f = o.env[name];
    if (f) out.push(...(await readPem(f, name)));
  }
  for (const root of o.certsDirs ?? DEFAULT_CERTS_DIRS) {
    const dir = join(root, host);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names.filter((x) => x.endsWith(".crt")).sort())
      out.push(...(await readPem(join(dir, n), `${root}/${host}`)));
  }
  return out;
}

/** Node's TLS error codes that mean "the certificate is not trusted", not "this is not TLS". */
const UNTRUSTED =
  /SELF_SIGNED_CERT|UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)|CERT_(HAS_EXPIRED|NOT_YET_VALID|UNTRUSTED|REJECTED)|ERR_TLS_CERT_ALTNAME_INVALID/;

// ---------------------------------------------------------------------------------------------
// The client

export interface RegistryOptions {
  readonly env: Env;
  /** Plain HTTP instead of HTTPS (a local registry). */
  readonly insecure?: boolean;
  readonly signal?: AbortSignal;
  /** Default: from the Docker config of `env`. */
  readonly credentials?: (host: string) => Promise<Credentials | undefined>;
  /** Attempts per request (default 5). */
  readonly attempts?: number;
  /** First backoff (default 500 ms), doubled at each attempt, at most `maxBackoffMs` (default 30 s). */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Blobs bigger than this are uploaded in PATCH chunks of this size (default 16 MiB). */
  readonly chunkSize?: number;
  /** Told about each retry (for progress output). */
  readonly onRetry?: (what: string, attempt: number, reason: string) => void;
  /** PEM files of certificate authorities to trust besides the system's (`--ca-cert`). */
  readonly caFiles?: readonly string[];
  /**
   * Directories holding `HOST[:PORT]/*.crt` CA certificates per registry, as Docker and podman
   * keep them (default `/etc/docker/certs.d`, `/etc/containers/certs.d`).
   */
  readonly certsDirs?: readonly string[];
}

export type BlobStatus = "uploaded" | "skipped" | "mounted";

export interface BlobReport {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
  readonly status: BlobStatus;
}

const TRANSIENT = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === "object"; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && code) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const describeError = (e: unknown) => {
  const code = errorCode(e);
  const cause = (e as { cause?: { message?: string } }).cause?.message;
  return [code, cause ?? (e as Error).message].filter(Boolean).join(": ");
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** Retry-After: seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

interface RegistryRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  /** Token scopes this request needs (`repository:NAME:pull,push`). */
  readonly scopes: readonly string[];
  /** What is being done, for errors: "pushing blob sha256:… to HOST/REPO". */
  readonly doing: string;
  readonly repository: string;
}

/** The registry's error body (`{"errors":[{"code","message"}]}`) as one line, when it has one. */
async function errorBody(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (j.errors?.length)
      return j.errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
  } catch {
    // not JSON
  }
  return text.slice(0, 300).trim();
}

/**
 * Token scopes (`repository:NAME:pull,push`) with the actions of one resource joined: the
 * challenge's `repository:a:pull` adds nothing to `repository:a:pull,push`.
 */
export function mergeScopes(scopes: readonly string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const s of scopes) {
    const i = s.lastIndexOf(":");
    const resource = i > 0 ? s.slice(0, i) : s;
    const actions = byResource.get(resource) ?? new Set<string>();
    for (const a of i > 0 ? s.slice(i + 1).split(",") : []) if (a) actions.add(a);
    byResource.set(resource, actions);
  }
  return [...byResource].map(([r, a]) => (a.size ? `${r}:${[...a].join(",")}` : r));
}

/** An upload session the registry no longer knows or is past: the blob is checked, then uploaded anew. */
class UploadLost extends Error {
  constructor(readonly error: SlimwheelError) {
    super(error.message);
  }
}

export class RegistryClient {
  readonly host: string;
  readonly base: string;
  private readonly o: RegistryOptions;
  private basic: string | undefined;
  private readonly tokens = new Map<string, string>();
  private challenge: Challenge | undefined;
  private credentials: Promise<Credentials | undefined> | undefined;
  private dispatcher: Promise<Agent | undefined> | undefined;

  constructor(host: string, o: RegistryOptions) {
    this.host = host;
    this.o = o;
    const apiHost = host === "docker.io" ? "registry-1.docker.io" : host;
    this.base = `${o.insecure ? "http" : "https"}://${apiHost}`;
  }

  url(path: string): URL {
    return new URL(path, this.base);
  }

  private creds(): Promise<Credentials | undefined> {
    this.credentials ??= (this.o.credentials ?? ((h) => credentialsFromDockerConfig(h, this.o.env)))(
      this.host,
    );
    return this.credentials;
  }

  /** An agent trusting the extra CAs for this registry, when there are any (else node's default). */
  private tls(): Promise<Agent | undefined> {
    this.dispatcher ??= this.o.insecure
      ? Promise.resolve(undefined)
      : extraCertificates(this.host, this.o).then(async (extra) => {
          if (!extra.length) return undefined;
          // Loaded only here: undici costs every CLI start ~0.1 s, and most runs trust node's CAs.
          const { Agent } = await import("undici");
          return new Agent({ connect: { ca: [...rootCertificates, ...extra] } });
        });
    return this.dispatcher;
  }

  /** Closes the connections of a CA-trusting agent (node's default agent needs no closing). */
  async close(): Promise<void> {
    const d = await this.dispatcher?.catch(() => undefined);
    await d?.close();
  }

  /** One request with retries on 5xx, 429 and dropped connections. */
  private async attempt(req: RegistryRequest, auth: string | undefined): Promise<Response> {
    const dispatcher = await this.tls();
    const attempts = Math.max(1, this.o.attempts ?? 5);
    const base = this.o.backoffMs ?? 500;
    const max = this.o.maxBackoffMs ?? 30_000;
    for (let n = 1; ; n++) {
      const backoff = Math.min(max, base * 2 ** (n - 1));
      let res: Response;
      try {
        res = await fetch(req.url, {
          method: req.method,
          headers: { ...req.headers, ...(auth ? { authorization: auth } : {}) },
          body: req.body ? new Uint8Array(req.body) : undefined,
          redirect: "follow",
          signal: this.o.signal,
          // node's fetch is undici 6: it takes an undici Agent as its dispatcher
          ...(dispatcher ? ({ dispatcher } as object) : {}),
        });
      } catch (e) {
        if (this.o.signal?.aborted)
          throw new SlimwheelError("cancelled", `${req.doing}: cancelled`, { cause: e });
        const code = errorCode(e);
        if (code && TRANSIENT.has(code) && n < attempts) {
          this.o.onRetry?.(req.doing, n, describeError(e));
          await sleep(backoff, this.o.signal);
          continue;
        }
        throw new SlimwheelError(
          "network",
          `${req.doing}: cannot reach ${this.host} (${describeError(e)}) after ${n} attempt${n > 1 ? "s" : ""}`,
          {
            hint: UNTRUSTED.test(describeError(e))
              ? `${this.host}'s TLS certificate is not signed by a CA this machine trusts: pass --ca-cert FILE with the registry's CA certificate (or put it in /etc/docker/certs.d/${this.host}/ca.crt)`
              : /SSL|TLS|EPROTO|certificate|wrong version/i.test(describeError(e))
                ? `${this.host} may speak plain HTTP: pass --insecure for a local registry`
                : `check that the registry at ${this.base} is running and reachable`,
            cause: e,
          },
        );
      }
      if ((res.status >= 500 || res.status === 429) && n < attempts) {
        const wait = Math.min(max, retryAfterMs(res.headers.get("retry-after")) ?? backoff);
        await res.body?.cancel().catch(() => undefined);
        this.o.onRetry?.(req.doing, n, `HTTP ${res.status}`);
        await sleep(wait, this.o.signal);
        continue;
      }
      return res;
    }
  }

  private authHeader(scopes: readonly string[]): string | undefined {
    if (this.challenge?.scheme === "bearer") return this.tokens.get(scopes.join(" "));
    return this.basic;
  }

  /** Sends `req`, answering an authentication challenge once. Throws on 401 and 403. */
  async send(req: RegistryRequest): Promise<Response> {
    let res = await this.attempt(req, this.authHeader(req.scopes));
    if (res.status === 401) {
      const header = res.headers.get("www-authenticate") ?? "";
      await res.body?.cancel().catch(() => undefined);
      const challenges = parseWwwAuthenticate(header);
      const c = challenges.find((x) => x.scheme === "bearer") ?? challenges.find((x) => x.scheme === "basic");
      if (!c)
        throw await this.denied(req, res, "it asked for an authentication scheme slimwheel does not speak");
      this.challenge = c;
      const auth = await this.authorize(c, req);
      res = await this.attempt(req, auth);
    }
    if (res.status === 401 || res.status === 403) throw await this.denied(req, res);
    return res;
  }

  private async denied(req: RegistryRequest, res: Response, why?: string): Promise<SlimwheelError> {
    const body = await errorBody(res);
    const what = res.status === 403 ? "denied access to" : "requires authentication for";
    // which credentials were sent, if any: "none found" and "refused" call for different fixes
    const config = this.o.credentials
      ? "the credentials given"
      : (dockerConfigPath(this.o.env) ?? "~/.docker/config.json");
    const creds = res.status === 401 && !why ? await this.creds().catch(() => undefined) : undefined;
    const sent =
      res.status !== 401 || why
        ? ""
        : creds
          ? `; the credentials for ${this.host} in ${config} were refused`
          : `; no credentials for ${this.host} in ${config}`;
    return new SlimwheelError(
      "network",
      `${req.doing}: registry ${this.host} ${what} ${req.repository} (HTTP ${res.status}${body ? `: ${body}` : ""})${why ? `; ${why}` : ""}${sent}`,
      {
        hint:
          res.status === 403
            ? `the account logged in to ${this.host} may not push or pull ${req.repository}; check its permissions, or run \`docker login ${this.host}\` with another account`
            : `run \`docker login ${this.host}\` (credentials are read from ${config})`,
      },
    );
  }

  /** The Authorization header for challenge `c`, fetching a token for the request's scopes. */
  private async authorize(c: Challenge, req: RegistryRequest): Promise<string | undefined> {
    const creds = await this.creds();
    if (c.scheme === "basic") {
      if (!creds || !("username" in creds)) return undefined;
      this.basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
      return this.basic;
    }
    const realm = c.params.realm;
    if (!realm || !/^https?:\/\//.test(realm))
      throw new SlimwheelError(
        "network",
        `${req.doing}: ${this.host} sent a Bearer challenge without a usable realm`,
        {
          details: JSON.stringify(c.params),
        },
      );
    const scopes = mergeScopes([...req.scopes, ...(c.params.scope ? c.params.scope.split(" ") : [])]);
    const url = new URL(realm);
    if (c.params.service) url.searchParams.set("service", c.params.service);
    let res: Response;
    const tokenReq = (r: Omit<RegistryRequest, "scopes" | "doing" | "repository">) =>
      this.attempt(
        {
          ...r,
          scopes: [],
          doing: `${req.doing}: getting a token from ${url.origin}`,
          repository: req.repository,
        },
        undefined,
      );
    if (creds && "identityToken" in creds) {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: creds.identityToken,
        client_id: "slimwheel",
        service: c.params.service ?? "",
        scope: scopes.join(" "),
      });
      res = await tokenReq({
        method: "POST",
        url,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: Buffer.from(form.toString()),
      });
    } else {
      for (const s of scopes) url.searchParams.append("scope", s);
      const headers: Record<string, string> = {};
      if (creds)
        headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
      res = await tokenReq({ method: "GET", url, headers });
    }
    if (!res.ok) throw await this.denied({ ...req, doing: `${req.doing} (token from ${url.origin})` }, res);
    const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token)
      throw new SlimwheelError("network", `${req.doing}: the token service ${url.origin} returned no token`);
    const header = `Bearer ${token}`;
    this.tokens.set(req.scopes.join(" "), header);
    return header;
  }

  private async fail(req: RegistryRequest, res: Response): Promise<SlimwheelError> {
    const body = await errorBody(res);
    const notFound = res.status === 404;
    return new SlimwheelError(
      notFound ? "not-found" : "network",
      `${req.doing}: registry ${this.host} answered HTTP ${res.status}${body ? ` (${body})` : ""}`,
      {
        hint: notFound
          ? `check the name ${this.host}/${req.repository} and that it exists in the registry`
          : `the registry at ${this.base} rejected the request; see its logs`,
      },
    );
  }

  private scopes(repo: string, push: boolean, mountFrom?: string): string[] {
    const s = [`repository:${repo}:${push ? "pull,push" : "pull"}`];
    if (mountFrom) s.push(`repository:${mountFrom}:pull`);
    return s;
  }

  /** Whether the registry has `digest` in `repo` (HEAD). */
  async hasBlob(repo: string, digest: string, push = true): Promise<boolean> {
    const req: RegistryRequest = {
      method: "HEAD",
      url: this.url(`/v2/${repo}/blobs/${digest}`),
      scopes: this.scopes(repo, push),
      doing: `checking blob ${digest} in ${this.host}/${repo}`,
      repository: repo,
    };
    const res = await this.send(req);
    await res.body?.cancel().catch(() => undefined);
    if (res.ok) return true;
    if (res.status === 404) return false;
    throw await this.fail(req, res);
  }

  /** Pushes one blob from `file`: skipped when present, mounted from `mountFrom` when it can be. */
  async pushBlob(repo: string, d: Descriptor, file: string, mountFrom?: string): Promise<BlobStatus> {
    if (await this.hasBlob(repo, d.digest)) return "skipped";
    const attempts = Math.max(1, this.o.attempts ?? 5);
    for (let n = 1; ; n++) {
      try {
        return await this.uploadOnce(repo, d, file, mountFrom);
      } catch (e) {
        if (!(e instanceof UploadLost) || n >= attempts) throw e instanceof UploadLost ? e.error : e;
        // The answer to a PATCH or PUT can be lost after the registry acted on it: a retry then
        // meets a finished or moved-on session (404, 416). Ask whether the blob arrived; if not,
        // start a new upload session.
        if (await this.hasBlob(repo, d.digest)) return "uploaded";
        this.o.onRetry?.(e.error.message, n, "the upload session was lost, starting a new one");
      }
    }
  }

  /** One upload session of blob `d`: POST (or mount), then PATCH chunks and a PUT, or one PUT. */
  private async uploadOnce(
    repo: string,
    d: Descriptor,
    file: string,
    mountFrom?: string,
  ): Promise<BlobStatus> {
    const scopes = this.scopes(repo, true, mountFrom);
    const doing = `pushing blob ${d.digest} to ${this.host}/${repo}`;
    // The descriptor's size is the layout's claim; what is read (and allocated) must be the file.
    const actual = (await stat(file)).size;
    if (actual !== d.size)
      throw new SlimwheelError(
        "input",
        `${doing}: the blob is ${actual} bytes in ${file}, but its descriptor says ${d.size}`,
        { hint: "the image layout is corrupt or was changed after it was written; write it again" },
      );
    const start = this.url(`/v2/${repo}/blobs/uploads/`);
    if (mountFrom) {
      start.searchParams.set("mount", d.digest);
      start.searchParams.set("from", mountFrom);
    }
    const post: RegistryRequest = {
      method: "POST",
      url: start,
      scopes,
      doing,
      repository: repo,
      headers: {},
    };
    const res = await this.send(post);
    if (res.status === 201 && mountFrom) {
      await res.body?.cancel().catch(() => undefined);
      return "mounted";
    }
    if (res.status !== 202) throw await this.fail(post, res);
    await res.body?.cancel().catch(() => undefined);
    let location = this.location(res, post);
    const chunk = this.o.chunkSize ?? 16 * 1024 * 1024;
    const fh = await open(file, "r");
    try {
      if (d.size > chunk) {
        for (let offset = 0; offset < d.size; offset += chunk) {
          const n = Math.min(chunk, d.size - offset);
          const buf = Buffer.alloc(n);
          await fh.read(buf, 0, n, offset);
          const patch: RegistryRequest = {
            method: "PATCH",
            url: location,
            scopes,
            doing,
            repository: repo,
            body: buf,
            headers: {
              "content-type": "application/octet-stream",
              "content-range": `${offset}-${offset + n - 1}`,
            },
          };
          const r = await this.send(patch);
          if (r.status !== 202) throw await this.sessionFailed(patch, r);
          await r.body?.cancel().catch(() => undefined);
          location = this.location(r, patch);
        }
        location.searchParams.set("digest", d.digest);
        const put: RegistryRequest = {
          method: "PUT",
          url: location,
          scopes,
          doing,
          repository: repo,
          headers: {},
        };
        const r = await this.send(put);
        if (r.status !== 201) throw await this.sessionFailed(put, r);
        await r.body?.cancel().catch(() => undefined);
      } else {
        const buf = Buffer.alloc(d.size);
        await fh.read(buf, 0, d.size, 0);
        location.searchParams.set("digest", d.digest);
        const put: RegistryRequest = {
          method: "PUT",
          url: location,
          scopes,
          doing,
          repository: repo,
          body: buf,
          headers: { "content-type": "application/octet-stream" },
        };
        const r = await this.send(put);
        if (r.status !== 201) throw await this.sessionFailed(put, r);
        await r.body?.cancel().catch(() => undefined);
      }
    } finally {
      await fh.close();
    }
    return "uploaded";
  }

  /** A failed PATCH or PUT of an upload session: 404 and 416 mean the session is gone or moved on. */
  private async sessionFailed(req: RegistryRequest, res: Response): Promise<Error> {
    const error = await this.fail(req, res);
    return res.status === 404 || res.status === 416 ? new UploadLost(error) : error;
  }

  private location(res: Response, req: RegistryRequest): URL {
    const loc = res.headers.get("location");
    if (!loc)
      throw new SlimwheelError("network", `${req.doing}: ${this.host} gave no upload location`, {
        hint: "the registry does not follow the distribution API",
      });
    return new URL(loc, req.url);
  }

  /** PUTs a manifest under `reference` (a tag or its digest); returns the digest the registry gives. */
  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const req: RegistryRequest = {
      method: "PUT",
      url: this.url(`/v2/${repo}/manifests/${reference}`),
      scopes: this.scopes(repo, true),
      doing: `pushing the manifest ${this.host}/${repo}${reference.startsWith("sha256:") ? "@" : ":"}${reference}`,
      repository: repo,
      body: bytes,
      headers: { "content-type": mediaType },
    };
    const res = await this.send(req);
    if (res.status !== 201 && res.status !== 200) throw await this.fail(req, res);
    await res.body?.cancel().catch(() => undefined);
    const digest = sha256(bytes);
    const given = res.headers.get("docker-content-digest");
    if (given && given !== digest)
      throw new SlimwheelError(
        "network",
        `${req.doing}: the registry stored it as ${given}, expected ${digest}`,
      );
    return digest;
  }

  /** GETs a manifest; its digest is checked when `reference` is one, and against Docker-Content-Digest. */
  async getManifest(
    repo: string,
    reference: string,
  ): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    const req: RegistryRequest = {
      method: "GET",
      url: this.url(`/v2/${repo}/manifests/${reference}`),
      scopes: this.scopes(repo, false),
      doing: `pulling the manifest ${this.host}/${repo}${reference.startsWith("sha256:") ? "@" : ":"}${reference}`,
      repository: repo,
      headers: {
        accept: [
          MediaType.ociManifest,
          MediaType.ociIndex,
          MediaType.dockerManifest,
          MediaType.dockerManifestList,
        ].join(", "),
      },
    };
    const res = await this.send(req);
    if (!res.ok) throw await this.fail(req, res);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256(bytes);
    const expected = reference.startsWith("sha256:") ? reference : res.headers.get("docker-content-digest");
    if (expected && expected !== digest)
      throw new SlimwheelError(
        "network",
        `${req.doing}: the manifest's digest is ${digest}, expected ${expected}`,
        {
          hint: "the registry or something between it and you changed the manifest",
        },
      );
    const mediaType =
      (JSON.parse(bytes.toString("utf8")) as { mediaType?: string }).mediaType ??
      res.headers.get("content-type")?.split(";")[0] ??
      MediaType.ociManifest;
    return { bytes, mediaType, digest };
  }

  /** Downloads blob `d` into the blob store `store`, checking its size and digest; returns its file. */
  async getBlob(repo: string, d: Descriptor, store: string): Promise<string> {
    const req: RegistryRequest = {
      method: "GET",
      url: this.url(`/v2/${repo}/blobs/${d.digest}`),
      scopes: this.scopes(repo, false),
      doing: `pulling blob ${d.digest} from ${this.host}/${repo}`,
      repository: repo,
    };
    const attempts = Math.max(1, this.o.attempts ?? 5);
    await mkdir(join(store, "sha256"), { recursive: true });
    const file = blobFile(store, d.digest);
    for (let n = 1; ; n++) {
      const res = await this.send(req);
      if (!res.ok || !res.body) throw await this.fail(req, res);
      const tmp = join(store, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
      const hash = createHash("sha256");
      let size = 0;
      try {
        const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
        body.on("data", (c: Buffer) => {
          hash.update(c);
          size += c.length;
        });
        await pipeline(body, createWriteStream(tmp));
      } catch (e) {
        await rm(tmp, { force: true });
        const code = errorCode(e);
        if (n < attempts && (!code || TRANSIENT.has(code))) {
          this.o.onRetry?.(req.doing, n, describeError(e));
          await sleep(
            Math.min(this.o.maxBackoffMs ?? 30_000, (this.o.backoffMs ?? 500) * 2 ** (n - 1)),
            this.o.signal,
          );
          continue;
        }
        throw new SlimwheelError("network", `${req.doing}: the download broke off (${describeError(e)})`, {
          cause: e,
        });
      }
      const got = `sha256:${hash.digest("hex")}`;
      if (got !== d.digest || size !== d.size) {
        await rm(tmp, { force: true });
        throw new SlimwheelError(
          "network",
          `${req.doing}: got ${size} bytes with digest ${got}, expected ${d.size} bytes with ${d.digest}`,
          { hint: "the registry holds a corrupt blob, or something between it and you changed it" },
        );
      }
      await rename(tmp, file);
      return file;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Push and pull

export interface PushOptions extends RegistryOptions {
  /** A repository of the same registry to mount blobs from (`POST …?mount=&from=`). */
  readonly mountFrom?: string;
  /** Told about each blob as it is done. */
  readonly onBlob?: (b: BlobReport) => void;
}

export interface PushResult {
  readonly ref: string;
  readonly digest: string;
  readonly blobs: readonly BlobReport[];
}

/** Pushes the config and layers of `image` not in `seen` (adding them), reporting each in `blobs`. */
async function pushBlobsOf(
  client: RegistryClient,
  repository: string,
  image: StoredImage,
  seen: Set<string>,
  blobs: BlobReport[],
  o: PushOptions,
): Promise<void> {
  for (const d of [image.manifestJson.config, ...image.manifestJson.layers]) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    const file = image.blobs.get(d.digest);
    if (!file) throw new SlimwheelError("not-found", `blob ${d.digest} of the image is not on disk`);
    const status = await client.pushBlob(repository, d, file, o.mountFrom);
    const report = { digest: d.digest, size: d.size, mediaType: d.mediaType, status };
    blobs.push(report);
    o.onBlob?.(report);
  }
}

/** Pushes `image` to `ref` (HOST/NAME[:TAG]): blobs, then the manifest by tag and by digest. */
export async function pushImage(image: StoredImage, ref: string, o: PushOptions): Promise<PushResult> {
  const r = parseImageRef(ref);
  const digest = image.manifest.descriptor.digest;
  if (r.digest && r.digest !== digest)
    throw new SlimwheelError(
      "usage",
      `${ref} names digest ${r.digest}, but the image's manifest is ${digest}`,
      {
        hint: "push by tag, or name the image's own digest",
      },
    );
  return withClient(r.registry, o, async (client) => {
    const blobs: BlobReport[] = [];
    await pushBlobsOf(client, r.repository, image, new Set<string>(), blobs, o);
    const mediaType = image.manifestJson.mediaType ?? image.manifest.descriptor.mediaType;
    const tag = r.tag ?? (r.digest ? undefined : "latest");
    if (tag) await client.putManifest(r.repository, tag, image.manifest.bytes, mediaType);
    await client.putManifest(r.repository, digest, image.manifest.bytes, mediaType);
    return { ref: formatRef({ ...r, tag, digest: undefined }), digest, blobs };
  });
}

export interface PushIndexResult extends PushResult {
  /** Each platform's image, pushed by digest. */
  readonly images: readonly { readonly platform: string; readonly digest: string }[];
}

/**
 * Pushes an image index to `ref`: each image's blobs and its manifest by digest (an index may
 * only name manifests the repository has), then the index by tag and by digest.
 */
export async function pushIndex(stored: StoredIndex, ref: string, o: PushOptions): Promise<PushIndexResult> {
  const r = parseImageRef(ref);
  const digest = stored.index.descriptor.digest;
  if (r.digest && r.digest !== digest)
    throw new SlimwheelError("usage", `${ref} names digest ${r.digest}, but the index is ${digest}`, {
      hint: "push by tag, or name the index's own digest",
    });
  return withClient(r.registry, o, async (client) => {
    const blobs: BlobReport[] = [];
    const seen = new Set<string>();
    const images: { platform: string; digest: string }[] = [];
    for (const [i, image] of stored.images.entries()) {
      await pushBlobsOf(client, r.repository, image, seen, blobs, o);
      const mediaType = image.manifestJson.mediaType ?? image.manifest.descriptor.mediaType;
      const m = image.manifest.descriptor.digest;
      await client.putManifest(r.repository, m, image.manifest.bytes, mediaType);
      const p = stored.index.json.manifests[i]?.platform;
      images.push({
        platform: p ? `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}` : "?",
        digest: m,
      });
    }
    const tag = r.tag ?? (r.digest ? undefined : "latest");
    const bytes = stored.index.bytes;
    if (tag) await client.putManifest(r.repository, tag, bytes, MediaType.ociIndex);
    await client.putManifest(r.repository, digest, bytes, MediaType.ociIndex);
    return { ref: formatRef({ ...r, tag, digest: undefined }), digest, blobs, images };
  });
}

/** Runs `f` with a client of `host`, closing its connections after. */
async function withClient<T>(
  host: string,
  o: RegistryOptions,
  f: (c: RegistryClient) => Promise<T>,
): Promise<T> {
  const client = new RegistryClient(host, o);
  try {
    return await f(client);
  } finally {
    await client.close();
  }
}

/**
 * Pulls `ref` into the blob store `store` (an index is resolved to the image of `o.platform`, by
 * default its linux/amd64 image, else its first): manifest, config and layers, each checked against its digest. Write the result with
 * `writeOciLayout`.
 */
export async function pullImage(
  ref: string,
  store: string,
  o: RegistryOptions & { readonly platform?: Platform },
): Promise<StoredImage> {
  const r = parseImageRef(ref);
  return withClient(r.registry, o, async (client) => {
    let m = await client.getManifest(r.repository, r.digest ?? r.tag ?? "latest");
    let json = JSON.parse(m.bytes.toString("utf8")) as ManifestJson & { manifests?: Descriptor[] };
    if (json.manifests) {
      const want = o.platform ?? { os: "linux", architecture: "amd64" };
      const pick =
        json.manifests.find(
          (x) =>
            x.platform?.os === want.os &&
            x.platform.architecture === want.architecture &&
            (want.variant === undefined || x.platform.variant === want.variant),
        ) ?? (o.platform ? undefined : json.manifests[0]);
      if (!pick)
        throw new SlimwheelError(
          "not-found",
          o.platform
            ? `${ref} is an index without an image for ${formatPlatform(o.platform)}`
            : `${ref} is an index without manifests`,
        );
      m = await client.getManifest(r.repository, pick.digest);
      json = JSON.parse(m.bytes.toString("utf8")) as typeof json;
    }
    if (!json.config || !Array.isArray(json.layers))
      throw new SlimwheelError("network", `${ref}: the manifest has no config or layers (${m.mediaType})`);
    await writeBytesBlob(m.bytes, m.mediaType, store);
    const blobs = new Map<string, string>();
    for (const d of [json.config, ...json.layers])
      if (!blobs.has(d.digest)) blobs.set(d.digest, await client.getBlob(r.repository, d, store));
    const configBytes = await readFile(blobs.get(json.config.digest)!);
    return {
      manifest: {
        bytes: m.bytes,
        descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length },
      },
      manifestJson: json,
      config: { bytes: configBytes, json: JSON.parse(configBytes.toString("utf8")) as ImageConfigJson },
      blobs,
    };
  });
}
