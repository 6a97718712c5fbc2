/**
 * schema/slimwheel-config.schema.json (for editors: taplo, Even Better TOML) follows what the
 * parser reads: the same keys with the same types, the same strategies and lint rule ids; and a
 * value the schema refuses is one slimwheel refuses too.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Ajv } from "ajv";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { rules } from "../lint/rules/index.js";
import { strategies } from "../plan/strategies/index.js";
import { parse, SLIMWHEEL_KEYS } from "./sources/pyproject/index.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const readJson = async (path: string) => JSON.parse(await readFile(join(ROOT, path), "utf8"));
const table = await readJson("schema/slimwheel-config.schema.json");
const whole = await readJson("schema/pyproject.schema.json");
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
const validate = ajv.compile(table);
const validateDocument = ajv.compile(whole);

type Props = Record<string, { type: string; items?: { type: string; enum?: string[] }; enum?: string[] }>;
const properties = table.properties as Props;

/** slimwheel's own verdict on a `[tool.slimwheel]` table (written as TOML). */
function slimwheelAccepts(toml: string): boolean {
  try {
    const facts = parse(
      `[project]\nname = "app"\nversion = "1"\n\n[tool.slimwheel]\n${toml}\n`,
      "pyproject.toml",
    );
    return facts.warnings.length === 0;
  } catch (e) {
    if (isSlimwheelError(e) && e.code === "input") return false;
    throw e;
  }
}

describe("schema/slimwheel-config.schema.json", () => {
  it("has exactly the keys the parser reads (SLIMWHEEL_KEYS), plus the lint table", () => {
    expect(Object.keys(properties).sort()).toEqual([...Object.keys(SLIMWHEEL_KEYS), "lint"].sort());
    expect(table.additionalProperties).toBe(false);
  });

  it("gives each key the type the parser checks", () => {
    const expected = { string: "string", number: "integer", boolean: "boolean", strings: "array" } as const;
    for (const [key, kind] of Object.entries(SLIMWHEEL_KEYS)) {
      expect(properties[key]!.type, key).toBe(expected[kind]);
      if (kind === "strings")
        expect(properties[key]!.items, key).toEqual(
          // keep: absolute paths in the image (the parser refuses others)
          key === "keep" ? { type: "string", pattern: "^/" } : { type: "string" },
        );
    }
  });

  it("lists the strategies and lint rules slimwheel has", () => {
    expect(properties.strategy!.enum).toEqual(strategies.map((s) => s.id));
    const lint = properties.lint as unknown as { properties: Props };
    expect(lint.properties.ignore!.items!.enum).toEqual(rules.map((r) => r.id));
  });

  it("accepts every [tool.slimwheel] example of docs/config.md", async () => {
    const doc = await readFile(join(ROOT, "docs", "config.md"), "utf8");
    const blocks = [...doc.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const block of blocks) {
      const parsed = parseToml(block) as { tool: { slimwheel: unknown } };
      expect(validate(parsed.tool.slimwheel), `${block}\n${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  });

  const valid = [
    'python = "3.12"\nstrategy = "venv"\nport = 8080\nruntime = "slim"',
    'runtime-packages = ["libmagic1"]\nkeep = ["/usr/share/misc/magic.mgc"]\nignore-lock = true',
    'groups = ["docs"]\nextras = ["postgres"]\ndockerignore = ["data/"]\nbuild-packages = ["libpq-dev"]',
    '[lint]\nignore = ["runs-as-root"]',
  ];
  it.each(valid)("accepts, as slimwheel does: %s", (toml) => {
    const value = (parseToml(`[tool.slimwheel]\n${toml}`) as { tool: { slimwheel: unknown } }).tool.slimwheel;
    expect(validate(value), ajv.errorsText(validate.errors)).toBe(true);
    expect(slimwheelAccepts(toml)).toBe(true);
  });

  const invalid = [
    "port = 0",
    "port = 70000",
    'port = "8000"',
    "port = 80.5",
    'groups = "dev"',
    "keep = [1]",
    'keep = ["usr/share/misc/magic.mgc"]',
    'ignore-lock = "yes"',
    'runtime = "fat"',
    "python = 3.12",
    'unknown-key = "x"',
  ];
  it.each(invalid)("refuses, as slimwheel does (an error or a warning): %s", (toml) => {
    const value = (parseToml(`[tool.slimwheel]\n${toml}`) as { tool: { slimwheel: unknown } }).tool.slimwheel;
    expect(validate(value)).toBe(false);
    expect(slimwheelAccepts(toml)).toBe(false);
  });

  it("refuses an unknown strategy and an unknown lint rule id", () => {
    expect(validate({ strategy: "fat" })).toBe(false);
    expect(validate({ lint: { ignore: ["no-such-rule"] } })).toBe(false);
  });
});

describe("schema/pyproject.schema.json (a whole pyproject.toml, for a #:schema directive)", () => {
  it("holds the table schema itself", () => {
    const { $schema: _, ...rest } = table;
    expect(whole.properties.tool.properties.slimwheel).toEqual(rest);
  });

  it("accepts any other table and checks [tool.slimwheel]", () => {
    const doc = (toml: string) => parseToml(toml);
    expect(
      validateDocument(
        doc('[project]\nname = "app"\n[tool.ruff]\nline-length = 100\n[tool.slimwheel]\nport = 5000\n'),
      ),
    ).toBe(true);
    expect(validateDocument(doc("[tool.slimwheel]\nport = 0\n"))).toBe(false);
  });
});

describe("[tool.slimwheel] keep", () => {
  it("refuses a relative path as an input error naming pyproject.toml and its line", () => {
    const toml =
      '[project]\nname = "app"\n\n[tool.slimwheel]\nkeep = ["/etc/magic", "usr/share/misc/magic.mgc"]\n';
    let error: unknown;
    try {
      parse(toml, "pyproject.toml");
    } catch (e) {
      error = e;
    }
    expect(isSlimwheelError(error)).toBe(true);
    expect(error).toMatchObject({
      code: "input",
      exitCode: 2,
      location: "pyproject.toml:5",
      message: 'tool.slimwheel.keep: "usr/share/misc/magic.mgc" is not an absolute path in the image',
    });
    expect((error as { hint: string }).hint).toContain('"/usr/share/misc/magic.mgc"');
  });
  it("accepts absolute paths and globs", () => {
    const facts = parse('[tool.slimwheel]\nkeep = ["/etc/magic", "/usr/share/**/*.mgc"]\n', "pyproject.toml");
    expect(facts.slimwheel?.keep).toEqual(["/etc/magic", "/usr/share/**/*.mgc"]);
  });
});
