import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { parse as parsePyproject } from "../project/sources/pyproject/index.js";
import { formatText, toJson, toSarif } from "./format.js";
import { failsAt, lintFile, lintText } from "./lint.js";
import { parseDockerfile } from "./model.js";
import { rules } from "./rules/index.js";

const root = join(import.meta.dirname, "..", "..");

describe("positions", () => {
  it("are exact: 1-based line and column, continuation lines, indentation, CRLF", () => {
    const text = [
      "# syntax=docker/dockerfile:1",
      "FROM python:3.12-slim",
      "",
      "RUN apt-get update && \\",
      "    apt-get install -y libpq5 && \\",
      "    rm -rf /var/lib/apt/lists/*",
      "  \tUSER  root",
      "ENV  A=1 API_TOKEN=abc",
    ].join("\r\n");
    const { findings } = lintText(text, "Dockerfile");
    const at = (rule: string) => findings.find((f) => f.rule === rule);
    expect(at("apt-install-recommends")).toMatchObject({ line: 4, column: 1, endLine: 6, endColumn: 32 });
    expect(at("runs-as-root")).toMatchObject({
      line: 7,
      column: 4,
      endLine: 7,
      endColumn: 14,
      severity: "warning",
    });
    expect(at("secret-in-env-arg")).toMatchObject({ line: 8, column: 10, endLine: 8, endColumn: 23 });
    expect(at("secret-in-env-arg")?.message).not.toContain("abc");
  });

  it("parses BuildKit syntax: heredocs, --mount, ARG before FROM, escape directive", () => {
    const df = parseDockerfile(
      [
        "# escape=`",
        "ARG PY=3.12",
        "ARG IMAGE=python:${PY}-slim",
        "FROM ${IMAGE} AS app",
        "RUN --mount=type=cache,target=/root/.cache/pip `",
        "    pip install flask",
        "RUN <<EOT",
        "echo one",
        "EOT",
        "COPY <<EOF /etc/x",
        "hello",
        "EOF",
        "USER 10001",
      ].join("\n"),
      "Dockerfile",
    );
    expect(df.escape).toBe("`");
    expect(df.stages.map((s) => [s.name, s.resolvedImage])).toEqual([["app", "python:3.12-slim"]]);
    expect(df.instructions.map((i) => [i.keyword, i.range.start.line + 1])).toEqual([
      ["ARG", 2],
      ["ARG", 3],
      ["FROM", 4],
      ["RUN", 5],
      ["RUN", 7],
      ["COPY", 10],
      ["USER", 13],
    ]);
    expect(df.instructions[3]?.flags.map((f) => [f.name, f.value])).toEqual([
      ["mount", "type=cache,target=/root/.cache/pip"],
    ]);
    expect(df.instructions[3]?.args).toMatch(/^pip install flask$/);
  });
});

describe("ignores", () => {
  const text = [
    "# slimwheel-ignore-file runs-as-root",
    "FROM python:3.12",
    "# slimwheel-ignore pip-cache-in-layer,apt-lists-kept",
    "RUN pip install flask",
    "RUN pip install gunicorn",
  ].join("\n");

  it("a comment ignores its rules on the next instruction only; -file for the whole file", () => {
    const { findings, ignored } = lintText(text, "Dockerfile");
    expect(findings.map((f) => [f.rule, f.line])).toEqual([
      ["full-python-final", 2],
      ["pip-cache-in-layer", 5],
    ]);
    expect(ignored).toEqual(["runs-as-root"]);
  });

  it("an ignore covers the whole next instruction, continuation lines included", () => {
    const secret =
      "FROM python:3.12-slim\nUSER 1\n# slimwheel-ignore secret-in-env-arg\nENV A=1 \\\n    API_TOKEN=x\nENV DB_PASSWORD=y\n";
    expect(lintText(secret, "Dockerfile").findings.map((f) => [f.rule, f.line])).toEqual([
      ["secret-in-env-arg", 6],
    ]);
  });

  it("the config's ignore list drops a rule everywhere", () => {
    const { findings } = lintText(text, "Dockerfile", {
      ignore: ["pip-cache-in-layer", "full-python-final"],
    });
    expect(findings).toEqual([]);
  });

  describe("[tool.slimwheel.lint] in pyproject.toml next to the Dockerfile", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "slimwheel-lint-"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("is read and applied", async () => {
      await writeFile(join(dir, "Dockerfile"), "FROM python:3.12\nRUN pip install flask\n");
      await writeFile(
        join(dir, "pyproject.toml"),
        '[project]\nname = "x"\n[tool.slimwheel.lint]\nignore = ["full-python-final"]\n',
      );
      const result = await lintFile(join(dir, "Dockerfile"));
      expect(result.findings.map((f) => f.rule).sort()).toEqual(["pip-cache-in-layer", "runs-as-root"]);
      expect(result.ignored).toEqual(["full-python-final"]);
    });

    it("is not an unknown key to the project reader", () => {
      const facts = parsePyproject(
        '[project]\nname = "x"\n[tool.slimwheel]\npython = "3.12"\nnope = 1\n[tool.slimwheel.lint]\nignore = []\n',
        "pyproject.toml",
      );
      const messages = (facts.warnings ?? []).map((w) => w.message);
      expect(messages.some((m) => m.includes("tool.slimwheel.nope"))).toBe(true);
      expect(messages.some((m) => m.includes("tool.slimwheel.lint"))).toBe(false);
    });

    it("rejects unknown rule ids with the file named", async () => {
      await writeFile(join(dir, "pyproject.toml"), '[tool.slimwheel.lint]\nignore = ["no-such-rule"]\n');
      const e = await lintFile(join(dir, "Dockerfile")).catch((x: unknown) => x);
      expect(isSlimwheelError(e) && e.code === "input" && e.message.includes("no-such-rule")).toBe(true);
      expect(isSlimwheelError(e) && e.location).toBe(join(dir, "pyproject.toml"));
    });

    it("a missing Dockerfile is an input error naming the path", async () => {
      const e = await lintFile(join(dir, "nope", "Dockerfile"), "nope/Dockerfile").catch((x: unknown) => x);
      expect(isSlimwheelError(e)).toBe(true);
      expect(isSlimwheelError(e) && [e.code, e.exitCode, e.message]).toEqual([
        "input",
        2,
        "nope/Dockerfile does not exist",
      ]);
    });
  });
});

describe("severity threshold", () => {
  const { findings } = lintText(
    "FROM python:3.12-slim\nUSER 10001\nADD a.txt /a\nENV API_TOKEN=x\n",
    "Dockerfile",
  );
  it("fails at or above the threshold only", () => {
    expect(findings.map((f) => f.severity).sort()).toEqual(["error", "warning"]);
    expect(failsAt(findings, "error")).toBe(true);
    expect(
      failsAt(
        findings.filter((f) => f.severity !== "error"),
        "error",
      ),
    ).toBe(false);
    expect(
      failsAt(
        findings.filter((f) => f.severity !== "error"),
        "warning",
      ),
    ).toBe(true);
    expect(failsAt([], "info")).toBe(false);
  });
});

describe("output", () => {
  const result = lintText(
    "FROM python:3.12\nCOPY . .\nRUN pip install -r requirements.txt\nARG PIP_INDEX_URL=https://me:hunter2@pkgs.example/simple\n",
    "app/Dockerfile",
  );

  it("text: file:line:col  severity  RULE  message, then cost and fix", () => {
    const text = formatText([result]);
    expect(text).toContain("app/Dockerfile\n");
    expect(text).toContain("  app/Dockerfile:3:1  warning  deps-after-copy-all  `pip install` runs after");
    expect(text).toMatch(/\n {6}cost: ≈ .*\n {6}fix: {2}copy only the dependency files first/);
    expect(text).not.toContain("hunter2");
    expect(text).toContain("me:***@");
  });

  it("JSON: findings and a summary", () => {
    const json = toJson([result], true, "warning") as {
      ok: boolean;
      findings: unknown[];
      summary: Record<string, unknown>;
    };
    expect(json.ok).toBe(false);
    expect(json.findings.length).toBe(result.findings.length);
    expect(json.summary).toMatchObject({
      files: 1,
      findings: result.findings.length,
      error: 1,
      threshold: "warning",
    });
    expect(JSON.stringify(json)).not.toContain("hunter2");
  });

  it("SARIF validates against the SARIF 2.1.0 JSON schema", async () => {
    const schema = JSON.parse(
      await readFile(join(root, "test", "fixtures", "sarif", "sarif-2.1.0-rtm.5.schema.json"), "utf8"),
    ) as Record<string, unknown>;
    // the schema is draft-04 (`id`, `$schema` draft-04): the same keywords under draft-07 names for
    // ajv 8; one of its patterns (language tags) is not valid with the `u` flag; formats (uri) are
    // checked by the test below instead
    const { $schema: _draft, id, ...rest } = schema;
    const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false, validateFormats: false });
    const validate = ajv.compile({ ...rest, $id: String(id) });
    const sarif = toSarif(
      [result, lintText("FROM python\nUSER 1\n", "/abs/path with space/Dockerfile")],
      "1.2.3",
    );
    const ok = validate(sarif);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    const results = (
      sarif as {
        runs: { results: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[] }[];
      }
    ).runs[0]!.results;
    const uris = results.map((r) => r.locations[0]!.physicalLocation.artifactLocation.uri);
    expect(uris).toContain("app/Dockerfile");
    expect(uris.at(-1)).toBe("file:///abs/path%20with%20space/Dockerfile");
    expect(new URL(uris.at(-1)!).pathname).toBe("/abs/path%20with%20space/Dockerfile");
    // and it can fail: a result without a message is invalid
    const broken = structuredClone(sarif) as { runs: { results: Record<string, unknown>[] }[] };
    delete broken.runs[0]!.results[0]!.message;
    expect(validate(broken)).toBe(false);
  });

  it("SARIF carries the registry and exact regions", () => {
    const sarif = toSarif([result], "1.2.3") as {
      runs: {
        tool: { driver: { rules: { id: string }[] } };
        results: {
          ruleId: string;
          ruleIndex: number;
          level: string;
          locations: { physicalLocation: { region: unknown; artifactLocation: { uri: string } } }[];
        }[];
      }[];
    };
    const run = sarif.runs[0]!;
    expect(run.tool.driver.rules.map((r) => r.id)).toEqual(rules.map((r) => r.id));
    const deps = run.results.find((r) => r.ruleId === "deps-after-copy-all")!;
    expect(run.tool.driver.rules[deps.ruleIndex]?.id).toBe("deps-after-copy-all");
    expect(deps.level).toBe("warning");
    expect(deps.locations[0]?.physicalLocation).toEqual({
      artifactLocation: { uri: "app/Dockerfile" },
      region: { startLine: 3, startColumn: 1, endLine: 3, endColumn: 36 },
    });
    expect(JSON.stringify(sarif)).not.toContain("hunter2");
  });
});

describe("bad input", () => {
  it("a file without FROM is an input error", () => {
    const e = (() => {
      try {
        lintText("# just a comment\n", "x/Dockerfile");
      } catch (x) {
        return x;
      }
    })();
    expect(isSlimwheelError(e) && [e.code, e.location, e.message]).toEqual([
      "input",
      "x/Dockerfile",
      "no FROM instruction: not a Dockerfile",
    ]);
  });
});
