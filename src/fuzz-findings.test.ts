/**
 * What the fuzz suite (npm run fuzz, test/fuzz/) found, one readable case per bug: each input used
 * to crash a parser with an untyped error, hang it, or change Object.prototype. Now each gives a
 * result or a SlimwheelError. The raw inputs are kept as fixtures under test/fixtures/fuzz/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { elfOf, sha256, tarOf } from "../test/fuzz/mutate.js";
import { SlimwheelError } from "./errors.js";
import { readDockerArchive } from "./oci/docker-archive.js";
import { analyzeLayer } from "./oci/layer.js";
import { readLayout } from "./oci/layout.js";
import { parsePipfile, parsePipfileLock } from "./project/sources/pipfile/index.js";
import { parse as parsePyproject } from "./project/sources/pyproject/index.js";
import { parseIni, parse as parseSetupCfg } from "./project/sources/setup-cfg/index.js";
import { parse as parseUvLock } from "./project/sources/uv-lock/index.js";
import { evaluateMarker, linuxTarget, parseMarker } from "./python/markers.js";
import { isValidSpecifier, maxSatisfying, satisfies } from "./python/pep440.js";
import { parseWheelFilename } from "./python/wheel-filename.js";
import { parseElf } from "./sysdeps/elf.js";

const inputError = (message: RegExp) =>
  expect.objectContaining({ name: "SlimwheelError", code: "input", message: expect.stringMatching(message) });
const tmp = mkdtempSync(join(tmpdir(), "slimwheel-fuzz-findings-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("project files", () => {
  it("setup.cfg: a [__proto__] section or key is an ordinary name, and Object.prototype stays as it was", () => {
    const content = "[__proto__]\nname = polluted\n[options]\n__proto__ = x\ninstall_requires =\n    flask\n";
    const facts = parseSetupCfg(content, "setup.cfg");
    expect(({} as Record<string, unknown>).name).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, "name")).toBe(false);
    expect(facts.requirements?.map((r) => r.requirement.name)).toEqual(["flask"]);
    const section = Object.getOwnPropertyDescriptor(parseIni(content, "setup.cfg"), "__proto__")?.value;
    expect(section?.name?.value).toBe("polluted");
  });

  it("Pipfile: a [[source]] url that is not a URL (verify_ssl = false) is an input error with its line", () => {
    const content = '[[source]]\nname = "x"\nurl = "not a url"\nverify_ssl = false\n';
    expect(() => parsePipfile(content, "Pipfile")).toThrow(SlimwheelError);
    try {
      parsePipfile(content, "Pipfile");
    } catch (e) {
      expect(e).toEqual(inputError(/url "not a url" is not a URL/));
      expect((e as SlimwheelError).location).toBe("Pipfile:3");
    }
  });

  it("Pipfile: extras holding a table are an input error, not a TypeError from join", () => {
    const content = '[packages]\nrequests = { version = "*", extras = [{ a = 1 }] }\n';
    expect(() => parsePipfile(content, "Pipfile")).toThrow(
      /packages\.requests\.extras must be an array of extra names/,
    );
  });

  it("Pipfile.lock: a pipfile-spec that is an object (its toString not a function) is no lock version, not a TypeError", () => {
    const facts = parsePipfileLock(
      '{"_meta": {"pipfile-spec": {"toString": 3}}, "default": {}}',
      "Pipfile.lock",
    );
    expect(facts.lockVersion).toBe("");
    expect(
      parsePipfileLock('{"_meta": {"pipfile-spec": 6}, "default": {}}', "Pipfile.lock").lockVersion,
    ).toBe("6");
  });

  it('uv.lock: an extra named "constructor" is an extra like any other', () => {
    const content = [
      "version = 1",
      "[[package]]",
      'name = "app"',
      'source = { editable = "." }',
      "[package.optional-dependencies]",
      'constructor = [{ name = "flask" }]',
      "[[package]]",
      'name = "flask"',
    ].join("\n");
    const facts = parseUvLock(content, "uv.lock");
    expect(facts.lockGraph?.extras.constructor).toEqual([{ to: "flask", extras: [], marker: undefined }]);
  });

  it("pyproject.toml: dependency groups including each other twice over expand in linear time, each requirement once", () => {
    let groups = "";
    for (let i = 0; i < 40; i++)
      groups += `g${i} = [{include-group = "g${i + 1}"}, {include-group = "g${i + 1}"}]\n`;
    groups += 'g40 = ["flask", "click"]\n';
    const facts = parsePyproject(`[dependency-groups]\n${groups}`, "pyproject.toml");
    expect(facts.groups?.g0?.map((r) => r.requirement.name)).toEqual(["flask", "click"]);
  });
});

// No timing assertion here (figures belong to bench/fuzz.ts): the inputs that once took seconds
// are refused by their size before any work, which the messages show; the test timeout guards hangs.
describe("Python specs", () => {
  it("markers: nesting deeper than 100 parentheses is an input error, not a stack overflow", () => {
    expect(() => parseMarker(`${"(".repeat(20_000)}os_name == "posix"${")".repeat(20_000)}`)).toThrow(
      /nested deeper than 100/,
    );
    expect(
      evaluateMarker(
        parseMarker(`${"(".repeat(50)}os_name == "posix"${")".repeat(50)}`),
        linuxTarget("3.12"),
      ),
    ).toBe(true);
  });

  it("PEP 440: a bound the library cannot evaluate is an invalid specifier, and evaluating it an input error", () => {
    expect(isValidSpecifier("<2222222222222222222222")).toBe(false);
    expect(() => satisfies("1.0", ">0,<2222222222222222222222")).toThrow(SlimwheelError);
    expect(() => maxSatisfying(["1.0"], "<2222222222222222222222")).toThrow(/cannot evaluate/);
    expect(satisfies("1.0", ">=0.9,<2")).toBe(true);
  });

  it("PEP 440: a specifier of thousands of clauses is refused at once (the library took seconds over it)", () => {
    const spec = `>=1.0${",<2".repeat(2000)}`;
    expect(isValidSpecifier(spec)).toBe(false);
    expect(() => satisfies("1.0", spec)).toThrow(/2001 clauses \(at most 64\)/);
    expect(() => maxSatisfying(["1.0"], spec)).toThrow(SlimwheelError);
    expect(isValidSpecifier(`>=1.0${",!=1.5".repeat(20)}`)).toBe(true);
  });

  it("wheel names: a tag set expanding past 10,000 tags is refused before it is expanded", () => {
    const name = `a-1-${"p.".repeat(300)}p-${"a.".repeat(300)}a-${"x.".repeat(300)}x.whl`;
    expect(() => parseWheelFilename(name)).toThrow(/expands to 27270901 tags/);
    expect(parseWheelFilename("six-1.16.0-py2.py3-none-any.whl").tags).toHaveLength(2);
  });
});

describe("images", () => {
  it("a layer with a directory entry whose header claims a size is read, not waited on forever", async () => {
    const tar = tarOf([
      { name: "app/", type: "5", size: 548 },
      { name: "app/main.py", data: "print(1)\n" },
    ]);
    const stats = await analyzeLayer(Readable.from([gzipSync(tar)]), true, "layer");
    expect(stats.whiteouts).toEqual([]);
  });

  it("a layer cut inside an entry is an input error (it used to escape as an uncaught 'Unexpected end of data')", async () => {
    const tar = tarOf([{ name: "app/big.bin", data: Buffer.alloc(4096, 1) }]);
    await expect(analyzeLayer(Readable.from([tar.subarray(0, 1024)]), false, "l")).rejects.toEqual(
      inputError(/^reading layer l: /),
    );
  });

  it("an OCI layout whose manifest has no config is an input error naming the manifest", async () => {
    const dir = join(tmp, "layout");
    mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [] }));
    const digest = sha256(manifest);
    writeFileSync(join(dir, "blobs", "sha256", digest), manifest);
    writeFileSync(
      join(dir, "index.json"),
      JSON.stringify({ manifests: [{ digest: `sha256:${digest}`, size: manifest.length }] }),
    );
    await expect(readLayout(dir)).rejects.toEqual(inputError(/has no config or layers/));
  });

  it("a docker archive whose manifest.json is not JSON is an input error; a config whose Env is a string is read without it", async () => {
    const file = join(tmp, "image.tar");
    writeFileSync(file, tarOf([{ name: "manifest.json", data: "[{" }]));
    await expect(readDockerArchive(file)).rejects.toEqual(inputError(/manifest.json is not valid JSON/));
    const config = JSON.stringify({ config: { Env: "PATH=/bin" } });
    writeFileSync(
      file,
      tarOf([
        { name: "manifest.json", data: JSON.stringify([{ Config: "c.json", Layers: [] }]) },
        { name: "c.json", data: config },
      ]),
    );
    // A field of the wrong type is left out of the summary rather than crashing the reader.
    await expect(readDockerArchive(file)).resolves.toMatchObject({ config: { env: [] } });
  });

  it("ELF: the reader the fuzzer found no crash in still reads the generated objects", () => {
    const info = parseElf(
      elfOf({ cls: 64, le: true, machine: 62, needed: ["libc.so.6"], mapped: true }),
      "x.so",
    );
    expect(info).toMatchObject({ class: 64, machine: "x86_64", needed: ["libc.so.6"], libc: "glibc" });
  });
});
