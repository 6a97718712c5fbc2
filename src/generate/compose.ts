/**
 * `slimwheel dockerfile --compose`: a compose.yaml for a web app that uses Postgres or Redis, and
 * the .env.example that names what it reads (docs/compose.md has every choice and why).
 *
 * Compatibility: docker compose v2 and docker-compose 1.29. No top-level `version:` (the Compose
 * Specification: docker-compose ≥ 1.27 reads it, v2 calls `version` obsolete);
 * `service_completed_successfully` (docker-compose ≥ 1.29.0); no `env_file` (its short form fails
 * when .env is missing, and `required: false` needs compose ≥ 2.24): every variable is named in
 * `environment:` and interpolated from `.env` or the shell, which both read and neither requires.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SlimwheelError } from "../errors.js";
import type { Project } from "../project/read.js";
import { readProjectFile } from "../util/safe-read.js";
import { type CommittedFile, compareFile } from "./compare-file.js";
import { computeInputs, GENERATED_PREFIX, type Inputs, isGenerated, stamp } from "./header.js";

export const COMPOSE_FILE = "compose.yaml";
export const ENV_EXAMPLE = ".env.example";
export type ComposeMode = "auto" | "plain";
/**
 * `default`: compose's own project network, services reach each other by name (`db`, `redis`).
 * `host`: every service on the host's network (`network_mode: host`), for engines without a
 * bridge (rootless setups, CI runners, slimwheel's test bed): they reach each other on 127.0.0.1,
 * every port is a variable, and the database and Redis listen on the loopback address only.
 */
export type ComposeNetwork = "default" | "host";
export interface ComposeOptions {
  readonly mode: ComposeMode;
  readonly version: string;
  readonly network?: ComposeNetwork;
}

export interface ComposeServices {
  readonly framework?: "django" | "flask" | "fastapi";
  readonly postgres?: { readonly driver: "psycopg" | "psycopg2" | "asyncpg"; readonly reason: string };
  readonly redis?: { readonly reason: string };
  readonly migrate?: { readonly command: readonly string[]; readonly reason: string };
  /** The port the app listens on (its start command's), when it is a server. */
  readonly port?: number;
  /** Environment variables the app's code reads (os.environ, os.getenv, django-environ, decouple). */
  readonly appEnv: readonly string[];
}

const POSTGRES_DRIVERS: readonly [string, "psycopg" | "psycopg2" | "asyncpg"][] = [
  ["psycopg", "psycopg"],
  ["psycopg-binary", "psycopg"],
  ["psycopg-c", "psycopg"],
  ["psycopg2", "psycopg2"],
  ["psycopg2-binary", "psycopg2"],
  ["asyncpg", "asyncpg"],
];
const REDIS_PACKAGES = ["redis", "django-redis", "channels-redis", "rq", "arq", "aioredis", "hiredis"];
/** Set by compose.yaml itself: never passed through from .env. */
const OWN_VARIABLES = new Set([
  "DATABASE_URL",
  "REDIS_URL",
  "PORT",
  "DJANGO_SETTINGS_MODULE",
  "PATH",
  "HOME",
]);

/** What compose.yaml needs, read from the project model (dependencies, frameworks, start command, files). */
export async function detectComposeServices(project: Project): Promise<ComposeServices> {
  const keys = new Map(project.dependencies.requirements.map((r) => [r.key, r]));
  const fw = project.frameworks.map((f) => f.name);
  const framework = (["django", "flask", "fastapi"] as const).find((f) => fw.includes(f));
  const pg = POSTGRES_DRIVERS.find(([k]) => keys.has(k));
  const redisKey =
    REDIS_PACKAGES.find((k) => keys.has(k)) ??
    [...keys.values()].find((r) => r.key === "celery" && r.extras.includes("redis"))?.key;
  const files = project.context.files;
  let migrate: ComposeServices["migrate"];
  if (framework === "django" && files.includes("manage.py"))
    migrate = {
      command: ["python", "manage.py", "migrate", "--noinput"],
      reason: "Django: manage.py migrate applies the migrations before the app starts",
    };
  else if (keys.has("flask-migrate"))
    migrate = { command: ["flask", "db", "upgrade"], reason: "flask-migrate is a dependency" };
  else if (keys.has("alembic") && files.includes("alembic.ini"))
    migrate = {
      command: ["alembic", "upgrade", "head"],
      reason: "alembic is a dependency and alembic.ini is present",
    };
  return {
    ...(framework ? { framework } : {}),
    ...(pg ? { postgres: { driver: pg[1], reason: `${keys.get(pg[0])!.name} is a dependency` } } : {}),
    ...(redisKey
      ? {
          redis: {
            reason: `${keys.get(redisKey)!.name}${redisKey === "celery" ? "[redis]" : ""} is a dependency`,
          },
        }
      : {}),
    ...(migrate && pg ? { migrate } : {}),
    ...(project.start?.port !== undefined ? { port: project.start.port } : {}),
    appEnv: await readAppEnv(project),
  };
}

const ENV_PATTERNS = [
  /os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']/g,
  /os\.environ\.get\(\s*["']([A-Z][A-Z0-9_]*)["']/g,
  /os\.getenv\(\s*["']([A-Z][A-Z0-9_]*)["']/g,
  /\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']/g, // django-environ
  /\bconfig\(\s*["']([A-Z][A-Z0-9_]*)["']/g, // python-decouple
];

async function readAppEnv(project: Project): Promise<string[]> {
  const names = new Set<string>();
  const py = project.context.files
    .filter((f) => f.endsWith(".py") && f.split("/").length <= 4 && !/(^|\/)(tests?|migrations)\//.test(f))
    .slice(0, 400);
  for (const f of py) {
    const text = (await readProjectFile(project.dir, f).catch(() => undefined)) ?? "";
    if (text.length > 512 * 1024) continue;
    for (const re of ENV_PATTERNS) for (const m of text.matchAll(re)) names.add(m[1]!);
  }
  return [...names].filter((n) => !OWN_VARIABLES.has(n)).sort();
}

const q = (s: string) => JSON.stringify(s);
const PG_PASSWORD = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env (see .env.example)}";
const PG_PORT = "${POSTGRES_PORT:-5432}";
const REDIS_PORT = "${REDIS_PORT:-6379}";

/** Where the services are reached from the app: by service name, or on the host's loopback. */
function addresses(network: ComposeNetwork) {
  return network === "host"
    ? { db: "127.0.0.1", dbPort: PG_PORT, redis: "127.0.0.1", redisPort: REDIS_PORT }
    : { db: "db", dbPort: "5432", redis: "redis", redisPort: "6379" };
}

/** The image name compose gives the app (APP_IMAGE overrides it): the project's name, as a repository. */
function appImage(project: Project): string {
  const name = (project.name ?? "app")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
  return name || "app";
}

/** Values compose.yaml gives the app's own variables that name its services (when they exist). */
function serviceValue(
  name: string,
  s: ComposeServices,
  network: ComposeNetwork = "default",
): string | undefined {
  const a = addresses(network);
  if (s.postgres) {
    const pg: Record<string, string> = {
      POSTGRES_HOST: a.db,
      POSTGRES_PORT: a.dbPort,
      POSTGRES_USER: "${POSTGRES_USER:-app}",
      POSTGRES_DB: "${POSTGRES_DB:-app}",
      POSTGRES_PASSWORD: PG_PASSWORD,
    };
    if (pg[name] !== undefined) return pg[name];
  }
  if (s.redis) {
    const redis: Record<string, string> = { REDIS_HOST: a.redis, REDIS_PORT: a.redisPort };
    if (redis[name] !== undefined) return redis[name];
  }
  return undefined;
}

function databaseUrl(s: ComposeServices, network: ComposeNetwork): string {
  // dj-database-url reads postgres://; SQLAlchemy picks its driver from the scheme.
  const scheme =
    s.framework === "django"
      ? "postgres"
      : s.postgres?.driver === "psycopg"
        ? "postgresql+psycopg"
        : s.postgres?.driver === "asyncpg"
          ? "postgresql+asyncpg"
          : "postgresql";
  const a = addresses(network);
  return `${scheme}://\${POSTGRES_USER:-app}:${PG_PASSWORD}@${a.db}:${a.dbPort}/\${POSTGRES_DB:-app}`;
}

export interface ComposeRender {
  readonly services: ComposeServices;
  readonly compose: string;
  readonly envExample: string;
}

/**
 * Renders compose.yaml and .env.example (unstamped). `auto` refuses a project with neither
 * Postgres nor Redis (compose adds nothing over `docker run` there); `plain` writes the app alone.
 */
export function renderCompose(project: Project, s: ComposeServices, o: ComposeOptions): ComposeRender {
  const network = o.network ?? "default";
  const host = network === "host";
  const a = addresses(network);
  if (o.mode === "auto" && !s.postgres && !s.redis)
    throw new SlimwheelError(
      "usage",
      `${project.dir}: no Postgres driver (psycopg, psycopg2, asyncpg) or Redis client among the dependencies: compose.yaml not written`,
      { hint: "pass --compose=plain to write one with the app service alone" },
    );
  const port = s.port ?? 8000;
  const what = [
    s.framework ? { django: "Django", flask: "Flask", fastapi: "FastAPI" }[s.framework] : "the app",
    s.postgres ? `Postgres (${s.postgres.driver})` : undefined,
    s.redis ? "Redis" : undefined,
  ].filter(Boolean);
  const y: string[] = [
    `${GENERATED_PREFIX} ${o.version}: docker compose for ${project.name ?? "this project"}: ${what.join(", ")}.`,
    "# For docker compose v2 and docker-compose 1.29 (no `version:` key: the Compose Specification).",
    "# Secrets come from .env (copy .env.example; never committed, kept out of the image by",
    "# .dockerignore) or the environment: none is in this file or in the image.",
    "# Start: cp .env.example .env && $EDITOR .env && docker compose up --build",
    "# With an image built by `slimwheel build -t IMAGE`: APP_IMAGE=IMAGE docker compose up --no-build",
  ];
  if (host)
    y.push(
      "# Host networking (--compose-network host): every service on the host's network, reached on",
      "# 127.0.0.1 at the ports .env sets; the database and Redis listen on the loopback address only.",
    );
  const env: [string, string][] = [["PORT", q(host ? `\${APP_PORT:-${port}}` : String(port))]];
  if (s.postgres) env.push(["DATABASE_URL", q(databaseUrl(s, network))]);
  if (s.redis) env.push(["REDIS_URL", q(`redis://${a.redis}:${a.redisPort}/0`)]);
  // The app's own variables: a value when they name a service, else passed through without a
  // value (set from .env or the shell when there, left unset otherwise: the app's defaults apply).
  for (const n of s.appEnv) {
    const v = serviceValue(n, s, network);
    env.push([n, v !== undefined ? q(v) : ""]);
  }
  y.push(
    "",
    "# The app's environment, shared by the app and the one-shot migrate service.",
    "x-app-environment: &app-environment",
  );
  for (const [k, v] of env) y.push(v ? `  ${k}: ${v}` : `  ${k}:`);
  const image = `    image: ${q(`\${APP_IMAGE:-${appImage(project)}}`)}`;
  const netLine = host ? ["    network_mode: host"] : [];
  y.push("", "services:", "  app:", "    build: .", image, "    environment: *app-environment", ...netLine);
  if (!host && (s.port !== undefined || s.framework))
    y.push("    ports:", `      - ${q(`\${APP_PORT:-${port}}:${port}`)}`);
  const deps: [string, string][] = [];
  if (s.postgres) deps.push(["db", "service_healthy"]);
  if (s.redis) deps.push(["redis", "service_healthy"]);
  if (s.migrate) deps.push(["migrate", "service_completed_successfully"]);
  if (deps.length) {
    y.push("    depends_on:");
    for (const [d, c] of deps) y.push(`      ${d}:`, `        condition: ${c}`);
  }
  y.push("    restart: unless-stopped");
  if (s.migrate) {
    y.push(
      "",
      `  # ${s.migrate.reason}; the app starts only once it exited 0.`,
      "  migrate:",
      "    build: .",
      image,
      "    environment: *app-environment",
      ...netLine,
      `    command: [${s.migrate.command.map(q).join(", ")}]`,
      "    depends_on:",
      "      db:",
      "        condition: service_healthy",
      `    restart: "no"`,
    );
  }
  if (s.postgres) {
    y.push(
      "",
      `  # ${s.postgres.reason}. The data lives in the named volume pgdata.`,
      "  db:",
      `    image: ${q("${POSTGRES_IMAGE:-postgres:16}")}`,
      "    environment:",
      `      POSTGRES_USER: ${q("${POSTGRES_USER:-app}")}`,
      `      POSTGRES_PASSWORD: ${q(PG_PASSWORD)}`,
      `      POSTGRES_DB: ${q("${POSTGRES_DB:-app}")}`,
      // the server and pg_isready both read PGPORT
      ...(host ? [`      PGPORT: ${q(PG_PORT)}`] : []),
      ...(host
        ? ["    network_mode: host", `    command: ["postgres", "-c", "listen_addresses=127.0.0.1"]`]
        : []),
      "    volumes:",
      "      - pgdata:/var/lib/postgresql/data",
      "    healthcheck:",
      `      test: ["CMD-SHELL", ${q('pg_isready -U "$${POSTGRES_USER}" -d "$${POSTGRES_DB}"')}]`,
      "      interval: 5s",
      "      timeout: 5s",
      "      retries: 20",
      "    restart: unless-stopped",
    );
  }
  if (s.redis) {
    y.push(
      "",
      `  # ${s.redis.reason}.`,
      "  redis:",
      `    image: ${q("${REDIS_IMAGE:-redis:7}")}`,
      ...(host
        ? [
            "    network_mode: host",
            `    command: ["redis-server", "--bind", "127.0.0.1", "--port", ${q(REDIS_PORT)}]`,
          ]
        : []),
      "    volumes:",
      "      - redisdata:/data",
      "    healthcheck:",
      host
        ? `      test: ["CMD", "redis-cli", "-p", ${q(REDIS_PORT)}, "ping"]`
        : `      test: ["CMD", "redis-cli", "ping"]`,
      "      interval: 5s",
      "      timeout: 5s",
      "      retries: 20",
      "    restart: unless-stopped",
    );
  }
  if (s.postgres || s.redis) {
    y.push("", "volumes:");
    if (s.postgres) y.push("  pgdata: {}");
    if (s.redis) y.push("  redisdata: {}");
  }
  const e: string[] = [
    `${GENERATED_PREFIX} ${o.version}: the variables compose.yaml reads.`,
    "# Copy to .env and fill in; never commit .env. One NAME=value a line, no quotes",
    "# (docker-compose 1.x keeps them in the value).",
    `APP_PORT=${port}`,
  ];
  if (s.postgres) e.push("POSTGRES_USER=app", "POSTGRES_PASSWORD=", "POSTGRES_DB=app");
  if (host && s.postgres) e.push("POSTGRES_PORT=5432");
  if (host && s.redis) e.push("REDIS_PORT=6379");
  e.push(
    "# The images (defaults shown): the app's, e.g. one built by `slimwheel build -t IMAGE` (then",
    "# `docker compose up --no-build`), and a mirror's or your own for the services:",
    `# APP_IMAGE=${appImage(project)}`,
  );
  if (s.postgres) e.push("# POSTGRES_IMAGE=postgres:16");
  if (s.redis) e.push("# REDIS_IMAGE=redis:7");
  const own = s.appEnv.filter((n) => serviceValue(n, s, network) === undefined);
  if (own.length)
    e.push(
      "# Read by the app's code; uncomment to set (an empty NAME= sets an empty string, and unset",
      "# ones keep the app's defaults):",
      ...own.map((n) => `# ${n}=`),
    );
  return { services: s, compose: `${y.join("\n")}\n`, envExample: `${e.join("\n")}\n` };
}

export interface ComposeFile {
  readonly path: string;
  readonly rel: string;
  readonly role: "compose" | "env-example";
  readonly content: string;
}

/** compose.yaml and .env.example, stamped with their inputs. */
export async function planComposeFiles(
  project: Project,
  o: ComposeOptions,
): Promise<{ services: ComposeServices; inputs: Inputs; files: ComposeFile[] }> {
  const services = await detectComposeServices(project);
  const r = renderCompose(project, services, o);
  const inputs = await computeInputs(project, {
    extra: [`compose=${o.mode}`, ...(o.network === "host" ? ["compose-network=host"] : [])],
  });
  return {
    services,
    inputs,
    files: [
      {
        path: join(project.dir, COMPOSE_FILE),
        rel: COMPOSE_FILE,
        role: "compose",
        content: stamp(r.compose, inputs),
      },
      {
        path: join(project.dir, ENV_EXAMPLE),
        rel: ENV_EXAMPLE,
        role: "env-example",
        content: stamp(r.envExample, inputs),
      },
    ],
  };
}

/** The mode a committed compose.yaml was written with (from its inputs line). */
const modeOf = (text: string): ComposeMode =>
  / compose=plain\b/.test(text.split("\n", 3).join("\n")) ? "plain" : "auto";
/** The network a committed compose.yaml was written for (from its inputs line). */
const networkOf = (text: string): ComposeNetwork =>
  / compose-network=host\b/.test(text.split("\n", 3).join("\n")) ? "host" : "default";
/** The flags that write a compose.yaml of this mode and network again. */
const composeFlags = (mode: ComposeMode, network: ComposeNetwork = "default") =>
  `--compose${mode === "plain" ? "=plain" : ""}${network === "host" ? " --compose-network host" : ""}`;

/**
 * The committed compose.yaml and .env.example, when slimwheel wrote them (a compose file without
 * the header is the user's and is not checked).
 */
export async function committedComposeFiles(
  project: Project,
  fix: string,
  version: string,
  /** Asked for (`--check --compose`): a missing compose.yaml is then reported, not skipped. */
  wanted?: ComposeMode,
  /** With `wanted`: the network asked for (`--compose-network`), named in the fix. */
  network?: ComposeNetwork,
): Promise<CommittedFile[]> {
  const text = await readFile(join(project.dir, COMPOSE_FILE), "utf8").catch(() => undefined);
  if (text === undefined && wanted)
    return [
      {
        path: join(project.dir, COMPOSE_FILE),
        rel: COMPOSE_FILE,
        role: "compose",
        status: "missing",
        reason: `not written yet (fix: ${fix} ${composeFlags(wanted, network)})`,
      },
    ];
  if (text === undefined || !isGenerated(text)) return [];
  const mode = modeOf(text);
  const written = networkOf(text);
  let planned: Awaited<ReturnType<typeof planComposeFiles>>;
  try {
    planned = await planComposeFiles(project, { mode, version, network: written });
  } catch (e) {
    if (!(e instanceof SlimwheelError)) throw e;
    return [
      {
        path: join(project.dir, COMPOSE_FILE),
        rel: COMPOSE_FILE,
        role: "compose",
        status: "stale",
        reason: `${e.message} any more (fix: ${fix} --compose=plain, or delete it)`,
      },
    ];
  }
  const out: CommittedFile[] = [];
  for (const f of planned.files) {
    const c = await compareFile(f, f.role, planned.inputs);
    out.push(
      c.status === "current"
        ? c
        : { ...c, reason: `${c.reason} (fix: ${fix} ${composeFlags(mode, written)})` },
    );
  }
  return out;
}
