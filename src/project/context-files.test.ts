import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  composeDockerignore,
  DEFAULT_DOCKERIGNORE,
  filterContext,
  findSecrets,
  secretInContent,
} from "./context-files.js";
import { readProject } from "./read.js";

const NESTED = [
  "app.py",
  "config/.env",
  "config/.env.production",
  "config/.env.example",
  "certs/server.key",
  "certs/server.pem",
  "deploy/id_rsa",
  "deploy/id_rsa.pub",
  "home/.aws/credentials",
  "home/.ssh/config",
  "sub/.netrc",
  "sub/.pypirc",
  "data/db.sqlite3",
  "pkg/.venv/bin/python",
  "pkg/__pycache__/x.cpython-314.pyc",
  ".git/",
  "vendor/lib/.git/",
];

describe("the default .dockerignore", () => {
  it("leaves secrets and caches out at every depth, keeps .env.example", () => {
    expect(filterContext(NESTED, DEFAULT_DOCKERIGNORE)).toEqual(["app.py", "config/.env.example"]);
  });
  it("keeps the user's ! exceptions (they come last and win)", () => {
    const lines = composeDockerignore(["!certs/server.pem", "# comment", "**/.env"]);
    expect(lines.slice(-1)).toEqual(["!certs/server.pem"]);
    expect(filterContext(NESTED, lines)).toEqual(["app.py", "config/.env.example", "certs/server.pem"]);
  });
  it("a .git/ line in .dockerignore excludes .git (no false warning)", () => {
    const kept = filterContext([".git/", "app.py"], [".git/"]);
    expect(kept).toEqual(["app.py"]);
    expect(findSecrets(kept)).toEqual([]);
  });
});

describe("secret signatures", () => {
  it("private-key headers and AWS key ids, not AWS's documented example", () => {
    expect(secretInContent("x\n-----BEGIN OPENSSH PRIVATE KEY-----\nabc")).toMatch(/private key/);
    expect(secretInContent("-----BEGIN RSA PRIVATE KEY-----")).toMatch(/private key/);
    expect(secretInContent("-----BEGIN PRIVATE KEY-----")).toMatch(/private key/);
    expect(secretInContent("-----BEGIN CERTIFICATE-----")).toBeUndefined();
    expect(secretInContent('AWS_ACCESS_KEY_ID = "AKIAZ7Q2XK4M3N5P6R7S"')).toMatch(/AWS/);
    expect(secretInContent("key = AKIAIOSFODNN7EXAMPLE")).toBeUndefined();
  });
  it("any text without a signature is not flagged", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        fc.pre(!/BEGIN|AKIA|ASIA/.test(s));
        expect(secretInContent(s)).toBeUndefined();
      }),
    );
  });
});

describe("readProject warns about nested secrets by name and by content", () => {
  let dir = "";
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  it("lists each with its path; honours .git/ in .dockerignore", async () => {
    dir = await mkdtemp(join(tmpdir(), "slimwheel-secrets-"));
    const files: Record<string, string> = {
      "requirements.txt": "flask==3.0.3\n",
      "app.py": "from flask import Flask\napp = Flask(__name__)\n",
      ".dockerignore": ".git/\n",
      ".git/HEAD": "ref: refs/heads/main\n",
      "config/.env": "SECRET=1\n",
      "certs/server.key": "x\n",
      "deploy/settings_prod.py": 'AWS_ACCESS_KEY_ID = "AKIAZ7Q2XK4M3N5P6R7S"\n',
      "keys/deploy.txt": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n",
      "docs/aws.md": "Use AKIAIOSFODNN7EXAMPLE in examples.\n",
    };
    for (const [p, t] of Object.entries(files)) {
      await mkdir(dirname(join(dir, p)), { recursive: true });
      await writeFile(join(dir, p), t);
    }
    const p = await readProject(dir);
    expect(p.context.secrets.map((s) => s.path).sort()).toEqual([
      "certs/server.key",
      "config/.env",
      "deploy/settings_prod.py",
      "keys/deploy.txt",
    ]);
    expect(p.context.secrets.find((s) => s.path === "keys/deploy.txt")?.what).toMatch(/private key/);
    expect(p.warnings.some((w) => /\.git/.test(w.message))).toBe(false);
    expect(p.warnings.some((w) => /deploy\/settings_prod\.py \(AWS access key id/.test(w.message))).toBe(
      true,
    );
  });
});
