import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2019 } from "ajv/dist/2019.js";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runCli } from "../cli/testing.js";
import { readProject } from "../project/read.js";
import { detectComposeServices } from "./compose.js";
import { committedDockerfileState } from "./dockerfile-files.js";

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;
const FIXTURES = new URL("../project/__fixtures__/projects/", import.meta.url).pathname;
const dirs: string[] = [];

/** The Compose Specification's schema (test/fixtures/compose-schema/README.md); its draft-04 style `id`s dropped. */
const SCHEMA = new URL("../../test/fixtures/compose-schema/compose-spec.json", import.meta.url).pathname;
function stripIds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripIds);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k, x]) => !((k === "id" || k === "$schema") && typeof x === "string"))
        .map(([k, x]) => [k, stripIds(x)]),
    );
  return v;
}
const composeSchema = new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(
  stripIds(JSON.parse(readFileSync(SCHEMA, "utf8"))) as object,
);
function schemaErrors(doc: unknown): string {
  return composeSchema(doc) ? "" : JSON.stringify(composeSchema.errors?.slice(0, 5), null, 1);
}

async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sw-compose-"));
  dirs.push(dir);
  return dir;
}

async function fromFiles(files: Record<string, string>): Promise<string> {
  const dir = await tmp();
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
  return dir;
}

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

interface Compose {
  services: Record<string, Record<string, unknown> & { depends_on?: Record<string, { condition: string }> }>;
  volumes?: Record<string, unknown>;
  version?: string;
}

/** compose.yaml parsed, after checking it against the Compose Specification's schema. */
async function readCompose(dir: string): Promise<Compose> {
  const doc = parse(await readFile(join(dir, "compose.yaml"), "utf8")) as Compose;
  expect(schemaErrors(doc)).toBe("");
  return doc;
}

describe("the Compose Specification schema", () => {
  it("is the file the README describes, and rejects what compose rejects (the validation can fail)", () => {
    expect(createHash("sha256").update(readFileSync(SCHEMA)).digest("hex")).toBe(
      "56bab44c85c0ce8affb74474950293f37d510673283a243bcd7eeadb900fa35c",
    );
    expect(
      schemaErrors({ services: { a: { image: "x", depends_on: { b: { condition: "service_done" } } } } }),
    ).not.toBe("");
    expect(schemaErrors({ services: { a: { image: "x", env_file: 5 } } })).not.toBe("");
  });
});

describe("slimwheel dockerfile --compose", () => {
  it("Django + psycopg2: app, migrate (manage.py migrate) and db (pg_isready, named volume); the app waits for both", async () => {
    const dir = await tmp();
    await cp(join(EXAMPLES, "django-postgres"), dir, { recursive: true });
    const r = await runCli(["dockerfile", dir, "--compose"]);
    expect(r.code, r.stderr).toBe(0);
    const c = await readCompose(dir);
    expect(c.version).toBeUndefined();
    expect(Object.keys(c.services).sort()).toEqual(["app", "db", "migrate"]);
    const { app, migrate, db } = c.services as Record<string, Record<string, unknown>>;
    expect(app!.build).toBe(".");
    expect(app!.ports).toEqual(["${APP_PORT:-8000}:8000"]);
    expect(app!.depends_on).toEqual({
      db: { condition: "service_healthy" },
      migrate: { condition: "service_completed_successfully" },
    });
    expect(migrate!.command).toEqual(["python", "manage.py", "migrate", "--noinput"]);
    expect(migrate!.depends_on).toEqual({ db: { condition: "service_healthy" } });
    expect(migrate!.restart).toBe("no");
    expect((db!.healthcheck as { test: string[] }).test.join(" ")).toMatch(/pg_isready/);
    expect(db!.volumes).toEqual(["pgdata:/var/lib/postgresql/data"]);
    expect(c.volumes).toHaveProperty("pgdata");
    const env = app!.environment as Record<string, string>;
    expect(env.DATABASE_URL).toMatch(
      /^postgres:\/\/\$\{POSTGRES_USER:-app\}:\$\{POSTGRES_PASSWORD:\?[^}]*\}@db:5432\//,
    );
    expect(migrate!.environment).toEqual(env);
    // The example's settings read POSTGRES_* and DJANGO_SECRET_KEY: the first name the db service,
    // the secret is passed through without a value (unset unless .env sets it: its default applies).
    expect(env.POSTGRES_HOST).toBe("db");
    expect(env.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(env).toHaveProperty("DJANGO_SECRET_KEY", null);
    // No secret value anywhere: only variables.
    const text = await readFile(join(dir, "compose.yaml"), "utf8");
    expect(text).not.toMatch(/env_file/);
    expect(text).toMatch(/^# Generated by slimwheel/);
    const example = await readFile(join(dir, ".env.example"), "utf8");
    expect(example).toMatch(/^POSTGRES_PASSWORD=$/m);
    // .env never reaches the image's context.
    expect(await readFile(join(dir, ".dockerignore"), "utf8")).toMatch(/\.env$/m);
  });

  it("app and migrate share one image name (APP_IMAGE), the services' images are variables too", async () => {
    const dir = await tmp();
    await cp(join(EXAMPLES, "django-postgres"), dir, { recursive: true });
    expect((await runCli(["dockerfile", dir, "--compose"])).code).toBe(0);
    const c = await readCompose(dir);
    const { app, migrate, db } = c.services;
    expect(app!.image).toMatch(/^\$\{APP_IMAGE:-[a-z0-9][a-z0-9._-]*\}$/);
    expect(migrate!.image).toBe(app!.image);
    expect(migrate!.build).toBe(".");
    expect(db!.image).toBe("${POSTGRES_IMAGE:-postgres:16}");
    const example = await readFile(join(dir, ".env.example"), "utf8");
    expect(example).toMatch(/^# APP_IMAGE=[a-z0-9]/m);
    expect(example).toMatch(/^# POSTGRES_IMAGE=postgres:16$/m);
  });

  it("--compose-network host: every service on the host's network, reached on 127.0.0.1 at variable ports, no published ports", async () => {
    const dir = await tmp();
    await cp(join(EXAMPLES, "django-postgres"), dir, { recursive: true });
    const r = await runCli(["dockerfile", dir, "--compose", "--compose-network", "host"]);
    expect(r.code, r.stderr).toBe(0);
    const c = await readCompose(dir);
    for (const [name, svc] of Object.entries(c.services)) expect(svc.network_mode, name).toBe("host");
    const { app, db } = c.services;
    expect(app!.ports).toBeUndefined();
    const env = app!.environment as Record<string, string>;
    expect(env.PORT).toBe("${APP_PORT:-8000}");
    expect(env.POSTGRES_HOST).toBe("127.0.0.1");
    expect(env.POSTGRES_PORT).toBe("${POSTGRES_PORT:-5432}");
    expect(env.DATABASE_URL).toMatch(/@127\.0\.0\.1:\$\{POSTGRES_PORT:-5432\}\//);
    // the server and pg_isready both read PGPORT; the server listens on loopback only
    expect((db!.environment as Record<string, string>).PGPORT).toBe("${POSTGRES_PORT:-5432}");
    expect(db!.command).toEqual(["postgres", "-c", "listen_addresses=127.0.0.1"]);
    expect(app!.depends_on).toEqual({
      db: { condition: "service_healthy" },
      migrate: { condition: "service_completed_successfully" },
    });
    expect(await readFile(join(dir, ".env.example"), "utf8")).toMatch(/^POSTGRES_PORT=5432$/m);
    // --check knows the network it was written for: current, and stale with the right fix
    expect((await committedDockerfileState(dir)).state).toBe("current");
    const req = join(dir, "requirements.txt");
    await writeFile(req, `${await readFile(req, "utf8")}redis==5.0.1\n`);
    const s = await committedDockerfileState(dir);
    expect(s.files.find((f) => f.rel === "compose.yaml")!.reason).toMatch(
      /--compose --compose-network host\)/,
    );
    const again = await runCli(["dockerfile", dir, "--compose", "--compose-network", "host"]);
    expect(again.code, again.stderr).toBe(0);
    const redis = (await readCompose(dir)).services.redis!;
    expect(redis.network_mode).toBe("host");
    expect(redis.command).toEqual(["redis-server", "--bind", "127.0.0.1", "--port", "${REDIS_PORT:-6379}"]);
    expect(redis.healthcheck).toMatchObject({
      test: ["CMD", "redis-cli", "-p", "${REDIS_PORT:-6379}", "ping"],
    });
    expect((c.services.app!.environment as Record<string, string>).REDIS_URL).toBeUndefined();
    expect(((await readCompose(dir)).services.app!.environment as Record<string, string>).REDIS_URL).toBe(
      "redis://127.0.0.1:${REDIS_PORT:-6379}/0",
    );
  });

  it("--compose-network without --compose is refused", async () => {
    const r = await runCli(["dockerfile", ".", "--compose-network", "host"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/add --compose/);
  });

  it("Flask + Redis: a redis service with a healthcheck, REDIS_URL, no migrate", async () => {
    const dir = await fromFiles({
      "requirements.txt": "flask==3.0.0\nredis==5.0.1\ngunicorn==21.2.0\n",
      "app.py":
        'import os\nfrom flask import Flask\napp = Flask(__name__)\napp.secret_key = os.environ["FLASK_SECRET"]\n',
    });
    const r = await runCli(["dockerfile", dir, "--compose"]);
    expect(r.code, r.stderr).toBe(0);
    const c = await readCompose(dir);
    expect(Object.keys(c.services).sort()).toEqual(["app", "redis"]);
    expect(c.services.app!.depends_on).toEqual({ redis: { condition: "service_healthy" } });
    expect(c.services.redis!.healthcheck).toMatchObject({ test: ["CMD", "redis-cli", "ping"] });
    const env = c.services.app!.environment as Record<string, string>;
    expect(env.REDIS_URL).toBe("redis://redis:6379/0");
    expect(env).toHaveProperty("FLASK_SECRET", null);
    expect(await readFile(join(dir, ".env.example"), "utf8")).toMatch(/^# FLASK_SECRET=$/m);
  });

  it("FastAPI + asyncpg + alembic: SQLAlchemy's asyncpg URL and an alembic migrate service", async () => {
    const dir = await fromFiles({
      "requirements.txt": "fastapi==0.110.1\nuvicorn==0.29.0\nasyncpg==0.29.0\nalembic==1.13.1\n",
      "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
      "alembic.ini": "[alembic]\nscript_location = migrations\n",
    });
    const project = await readProject(dir);
    const s = await detectComposeServices(project);
    expect(s).toMatchObject({ framework: "fastapi", postgres: { driver: "asyncpg" } });
    expect(s.migrate?.command).toEqual(["alembic", "upgrade", "head"]);
    expect((await runCli(["dockerfile", dir, "--compose"])).code).toBe(0);
    const c = await readCompose(dir);
    expect((c.services.app!.environment as Record<string, string>).DATABASE_URL).toMatch(
      /^postgresql\+asyncpg:\/\//,
    );
    expect(c.services.app!.depends_on).toHaveProperty("migrate", {
      condition: "service_completed_successfully",
    });
  });

  it("is not written for an app without a database (exit 2, nothing written); --compose=plain writes the app alone", async () => {
    const dir = await tmp();
    await cp(join(FIXTURES, "uv-service"), dir, { recursive: true });
    const r = await runCli(["dockerfile", dir, "--compose"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no Postgres driver .* or Redis client/);
    expect(r.stderr).toMatch(/--compose=plain/);
    expect(await readdir(dir)).not.toContain("compose.yaml");
    const plain = await runCli(["dockerfile", dir, "--compose=plain"]);
    expect(plain.code, plain.stderr).toBe(0);
    const c = await readCompose(dir);
    expect(Object.keys(c.services)).toEqual(["app"]);
    expect(c.services.app!.depends_on).toBeUndefined();
    expect(c.volumes).toBeUndefined();
  });

  it("refuses to overwrite a compose.yaml slimwheel did not write", async () => {
    const dir = await tmp();
    await cp(join(EXAMPLES, "django-postgres"), dir, { recursive: true });
    await writeFile(join(dir, "compose.yaml"), "services: {}\n");
    const r = await runCli(["dockerfile", dir, "--compose"]);
    expect(r.code).toBe(2);
    expect(await readFile(join(dir, "compose.yaml"), "utf8")).toBe("services: {}\n");
  });

  it("a committed compose.yaml takes part in --check: stale when the dependencies change, with --compose in the fix", async () => {
    const dir = await tmp();
    await cp(join(EXAMPLES, "django-postgres"), dir, { recursive: true });
    expect((await runCli(["dockerfile", dir, "--compose"])).code).toBe(0);
    expect((await committedDockerfileState(dir)).state).toBe("current");
    const req = join(dir, "requirements.txt");
    await writeFile(req, `${await readFile(req, "utf8")}redis==5.0.1\n`);
    const s = await committedDockerfileState(dir);
    expect(s.state).toBe("stale");
    const compose = s.files.find((f) => f.rel === "compose.yaml")!;
    expect(compose.status).toBe("stale");
    expect(compose.reason).toMatch(/--compose\)/);
  });

  it("--check --compose reports a compose.yaml that was never written", async () => {
    const dir = await tmp();
    await cp(join(EXAMPLES, "django-postgres"), dir, { recursive: true });
    expect((await runCli(["dockerfile", dir])).code).toBe(0);
    expect((await runCli(["dockerfile", dir, "--check"])).code).toBe(0);
    const r = await runCli(["dockerfile", dir, "--check", "--compose"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/compose\.yaml: missing/);
  });
});

describe("--compose and the directory argument", () => {
  it("a directory right after --compose is refused with a hint, not taken as a mode silently", async () => {
    const r = await runCli(["dockerfile", "--compose", "some/dir"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/put DIR first/);
  });
});
