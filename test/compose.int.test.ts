/**
 * Issue 14, item 3: the compose.yaml `slimwheel dockerfile --compose` writes for the
 * django-postgres example comes up on the test bed's Docker engine under Debian's docker-compose
 * (1.29), with a Postgres built from Debian's `postgresql` package; the one-shot migrate service
 * applies the migrations and exits 0, then the app answers 200.
 *
 * The test bed's engine has no bridge network and no Docker Hub, so the stack is written with
 * `--compose-network host` and the images come from `.env` (APP_IMAGE: built by `slimwheel build`
 * with the docker engine; POSTGRES_IMAGE: test/fixtures/postgres-debian): the generator's own
 * options, no override file.
 */
import { createHash, randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type Env, exec, hasProgram } from "../src/util/exec.js";
import { readEndpoints } from "../testbed/endpoints.js";
import { freePort, httpGet } from "../testbed/processes.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const DOCKER = "/usr/bin/docker";
const PG_FIXTURE = join(ROOT, "test", "fixtures", "postgres-debian");
/** Every image this file makes is under this name (never shared with other tests). */
const REPO = "localhost/slimwheel-compose-int";

const tb = await readEndpoints();

/**
 * The Postgres image, built once per fixture and base image: its tag is their hash, so a second
 * run finds it and builds nothing (a changed fixture or base image gets a new tag).
 */
async function postgresImage(env: Env): Promise<{ ref: string; built: boolean }> {
  const h = createHash("sha256").update(tb.images.runtime.digest);
  for (const f of ["Dockerfile", "docker-entrypoint.sh"])
    h.update(`${f}\n`).update(await readFile(join(PG_FIXTURE, f)));
  const ref = `${REPO}/postgres:${h.digest("hex").slice(0, 16)}`;
  const there = await exec(DOCKER, ["image", "inspect", ref], { env, allowFailure: true });
  if (there.code === 0) return { ref, built: false };
  await exec(
    DOCKER,
    ["build", "--network", "host", "--build-arg", `BASE=${tb.images.runtime.pinned}`, "-t", ref, PG_FIXTURE],
    { env: { ...env, DOCKER_BUILDKIT: "1" }, doing: "building the Postgres image from Debian's postgresql" },
  );
  return { ref, built: true };
}

/** The app image, built from the temporary copy (its committed Dockerfile) by today's CLI with docker. */
async function appImage(dir: string, env: Env): Promise<string> {
  const ref = `${REPO}/app:latest`;
  const sources = ["--builder-image", tb.images.builder.pinned, "--runtime-image", tb.images.runtime.pinned];
  const { stdout } = await exec(
    process.execPath,
    [
      CLI,
      "--quiet",
      "--json",
      "build",
      dir,
      "-t",
      ref,
      "--engine",
      "docker",
      ...sources,
      "--index-url",
      tb.index.url,
    ],
    { env, doing: "building the django-postgres example with slimwheel (docker engine)" },
  );
  const out = JSON.parse(stdout) as { engine?: { id?: string } };
  expect(out.engine?.id).toBe("docker");
  return ref;
}

/** `.env.example` filled in as a user would: a password, free ports, the images. */
function fillEnv(example: string, values: Record<string, string>): string {
  const lines = example.split("\n").map((l) => {
    const m = /^#? ?([A-Z][A-Z0-9_]*)=/.exec(l);
    return m && values[m[1]!] !== undefined ? `${m[1]}=${values[m[1]!]}` : l;
  });
  for (const k of Object.keys(values))
    if (!lines.some((l) => l.startsWith(`${k}=`))) throw new Error(`.env.example has no ${k}: ${example}`);
  return lines.join("\n");
}

describe("compose: the django-postgres stack on the test bed (docker-compose 1.29, Debian's Postgres)", () => {
  it("comes up, migrates (the one-shot service exits 0) and answers 200; down -v leaves nothing", async () => {
    expect(
      tb.docker,
      "the test bed has no Docker engine (the global setup runs `testbed up --docker`)",
    ).toBeDefined();
    expect(
      await hasProgram("docker-compose", process.env),
      "docker-compose is missing: `npm run testbed -- up --docker` installs Debian's (apt-get install docker-compose)",
    ).toBe(true);
    const env: Env = { ...process.env, DOCKER_HOST: tb.docker!.host };
    const version = await exec("docker-compose", ["version", "--short"], { env });
    expect(version.stdout.trim()).toMatch(/^1\.29\./);

    const t0 = Date.now();
    const times: string[] = [];
    const lap = (what: string, since: number) =>
      times.push(`${what} ${((Date.now() - since) / 1000).toFixed(1)} s`);
    const dir = await mkdtemp(join(tmpdir(), "slimwheel-compose-int-"));
    const project = `slimwheelcomposeint${process.pid}`;
    const compose = (args: string[], allowFailure = false) =>
      exec("docker-compose", ["-p", project, ...args], {
        env,
        cwd: dir,
        allowFailure,
        doing: `docker-compose ${args.join(" ")}`,
      });
    let up = false;
    try {
      await cp(join(ROOT, "examples", "django-postgres"), dir, { recursive: true });
      await exec(process.execPath, [CLI, "dockerfile", dir, "--compose", "--compose-network", "host"], {
        env,
        doing: "slimwheel dockerfile --compose --compose-network host",
      });
      const file = parse(await readFile(join(dir, "compose.yaml"), "utf8")) as {
        services: Record<
          string,
          { network_mode?: string; depends_on?: Record<string, { condition: string }> }
        >;
      };
      expect(Object.keys(file.services).sort()).toEqual(["app", "db", "migrate"]);
      expect(file.services.app!.depends_on?.migrate).toEqual({ condition: "service_completed_successfully" });

      let s = Date.now();
      const pg = await postgresImage(env);
      lap(`postgres image (${pg.built ? "built" : "cached"})`, s);
      s = Date.now();
      const app = await appImage(dir, env);
      lap("app image (slimwheel build, docker)", s);

      const appPort = await freePort();
      const pgPort = await freePort();
      const password = randomBytes(12).toString("hex");
      const secretKey = randomBytes(24).toString("hex");
      await writeFile(
        join(dir, ".env"),
        fillEnv(await readFile(join(dir, ".env.example"), "utf8"), {
          APP_PORT: String(appPort),
          POSTGRES_PORT: String(pgPort),
          POSTGRES_PASSWORD: password,
          APP_IMAGE: app,
          POSTGRES_IMAGE: pg.ref,
          // listed without a value in compose.yaml: its value comes from .env
          DJANGO_SECRET_KEY: secretKey,
        }),
      );
      // docker-compose 1.29 reads the file as its schema sees it, before any container starts
      await compose(["config", "--quiet"]);

      s = Date.now();
      up = true;
      // `up -d` returns once every service is started: the app only after db was healthy and
      // migrate exited 0 (docker-compose 1.29 waits for both conditions)
      await compose(["up", "-d", "--no-build"]);
      lap("docker-compose up -d", s);

      const id = (service: string) => compose(["ps", "-q", service]).then((r) => r.stdout.trim());
      const state = async (service: string) =>
        (
          await exec(
            DOCKER,
            ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.Config.Image}}", await id(service)],
            { env },
          )
        ).stdout.trim();
      expect(await state("migrate")).toBe(`exited 0 ${app}`);
      expect(await state("app")).toMatch(
        new RegExp(`^running 0 ${app.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`),
      );
      expect(await state("db")).toMatch(/^running 0 /);
      const appEnv = JSON.parse(
        (await exec(DOCKER, ["inspect", "-f", "{{json .Config.Env}}", await id("app")], { env })).stdout,
      ) as string[];
      expect(appEnv).toContain(`DJANGO_SECRET_KEY=${secretKey}`);
      expect(appEnv).toContain(`PORT=${appPort}`);
      const migrateLog = (await compose(["logs", "--no-color", "migrate"])).stdout;
      expect(migrateLog).toMatch(/Applying contenttypes\.0001_initial\.\.\. OK/);
      expect(migrateLog).toMatch(/Applying auth\.0001_initial\.\.\. OK/);

      // the app answers on its port (gunicorn boots after up returned)
      s = Date.now();
      let answer: Awaited<ReturnType<typeof httpGet>> | undefined;
      let last: unknown;
      while (Date.now() - s < 90_000) {
        answer = await httpGet(`http://127.0.0.1:${appPort}/`, { timeoutMs: 5000 }).catch((e: unknown) => {
          last = e;
          return undefined;
        });
        if (answer) break;
        await sleep(500);
      }
      expect(answer, `the app did not answer on 127.0.0.1:${appPort}: ${String(last)}`).toBeDefined();
      expect(answer!.status).toBe(200);
      expect(JSON.parse(answer!.body)).toEqual({ service: "django-postgres" });
      lap("first HTTP 200", s);

      // the migrations are in the app's database (migrate reached it over TCP, with the password)
      const applied = await compose([
        "exec",
        "-T",
        "db",
        "psql",
        "-U",
        "app",
        "-d",
        "app",
        "-tAc",
        "SELECT count(*) FROM django_migrations",
      ]);
      expect(Number(applied.stdout.trim())).toBeGreaterThanOrEqual(14);
      // and the database refuses a TCP client without the password
      const noPassword = await compose(
        [
          "exec",
          "-T",
          "-e",
          "PGPASSWORD=wrong",
          "db",
          "psql",
          "-h",
          "127.0.0.1",
          "-U",
          "app",
          "-d",
          "app",
          "-c",
          "SELECT 1",
        ],
        true,
      );
      expect(noPassword.code).not.toBe(0);
      expect(noPassword.stdout + noPassword.stderr).toMatch(/password authentication failed/);

      s = Date.now();
      await compose(["down", "-v", "--remove-orphans"]);
      up = false;
      lap("docker-compose down -v", s);
      const label = `label=com.docker.compose.project=${project}`;
      expect((await exec(DOCKER, ["ps", "-a", "-q", "--filter", label], { env })).stdout.trim()).toBe("");
      expect((await exec(DOCKER, ["volume", "ls", "-q", "--filter", label], { env })).stdout.trim()).toBe("");
      lap("total", t0);
      console.log(`compose.int: ${times.join(", ")}`);
    } catch (e) {
      if (up) {
        const logs = await compose(["logs", "--no-color", "--tail", "60"], true);
        console.error(`compose logs:\n${logs.stdout}${logs.stderr}`);
      }
      throw e;
    } finally {
      if (up) await compose(["down", "-v", "--remove-orphans"], true);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
