import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSlimwheelError } from "../errors.js";
import { evaluateMarker, linuxTarget, type Marker, parseMarker } from "./markers.js";
import { appliesTo, formatRequirement, parseRequirement, pinnedVersion, type Requirement } from "./pep508.js";

const py311 = linuxTarget("3.11");

describe("PEP 508 requirements", () => {
  it.each([
    ["requests", { name: "requests", key: "requests", extras: [], specifier: [] }],
    [
      "Flask==2.2.2",
      { name: "Flask", key: "flask", extras: [], specifier: [{ op: "==", version: "2.2.2" }] },
    ],
    [
      "requests [security , socks] >= 2.8.1, == 2.8.*",
      {
        name: "requests",
        key: "requests",
        extras: ["security", "socks"],
        specifier: [
          { op: ">=", version: "2.8.1" },
          { op: "==", version: "2.8.*" },
        ],
      },
    ],
    [
      "name (>=1.0,<2)",
      {
        name: "name",
        key: "name",
        extras: [],
        specifier: [
          { op: ">=", version: "1.0" },
          { op: "<", version: "2" },
        ],
      },
    ],
    [
      "Zope.Interface_x~=5.4",
      {
        name: "Zope.Interface_x",
        key: "zope-interface-x",
        extras: [],
        specifier: [{ op: "~=", version: "5.4" }],
      },
    ],
  ])("parses %s", (text, expected) => {
    expect(parseRequirement(text)).toEqual(expected);
  });

  it("parses URL requirements and markers after them", () => {
    const r = parseRequirement(
      "pip @ https://example.invalid/pip-23.0.zip#sha256=ab ; python_version >= '3.8'",
    );
    expect(r.url).toBe("https://example.invalid/pip-23.0.zip#sha256=ab");
    expect(r.marker).toBeDefined();
    expect(formatRequirement(r)).toBe(
      'pip @ https://example.invalid/pip-23.0.zip#sha256=ab ; python_version >= "3.8"',
    );
  });

  it("evaluates markers for the target, not the host", () => {
    const r = parseRequirement('importlib-metadata>=3.6; python_version < "3.10"');
    expect(appliesTo(r, py311)).toBe(false);
    expect(appliesTo(r, linuxTarget("3.9"))).toBe(true);
    expect(appliesTo(parseRequirement('pywin32; sys_platform == "win32"'), py311)).toBe(false);
    expect(
      appliesTo(parseRequirement('uvloop; platform_machine == "aarch64"'), linuxTarget("3.11", "aarch64")),
    ).toBe(true);
    // Versions compare as versions, not strings: "3.9" < "3.10".
    expect(appliesTo(parseRequirement('x; python_version > "3.9"'), linuxTarget("3.10"))).toBe(true);
  });

  it("evaluates and/or precedence, parentheses, extras and PEP 751 groups", () => {
    const m = parseMarker('os_name == "nt" or python_version >= "3.8" and extra == "Socks_X"');
    expect(evaluateMarker(m, { ...py311, extra: "socks-x" })).toBe(true);
    expect(evaluateMarker(m, { ...py311, extra: "" })).toBe(false);
    const g = parseMarker('"dev" in dependency_groups and (platform_system == "Linux")');
    expect(evaluateMarker(g, { ...py311, dependency_groups: ["dev"] })).toBe(true);
    expect(evaluateMarker(g, py311)).toBe(false);
    expect(evaluateMarker(parseMarker("'linux' in sys_platform"), py311)).toBe(true);
    expect(evaluateMarker(parseMarker("'darwin' not in sys_platform"), py311)).toBe(true);
  });

  it("knows pinned requirements", () => {
    expect(pinnedVersion(parseRequirement("flask==2.2.2"))).toBe("2.2.2");
    expect(pinnedVersion(parseRequirement("flask===2.2.2-custom"))).toBe("2.2.2-custom");
    expect(pinnedVersion(parseRequirement("flask==2.*"))).toBeUndefined();
    expect(pinnedVersion(parseRequirement("flask>=2"))).toBeUndefined();
  });

  it.each([
    ["", "expected a project name", 1],
    ["flask[async", "expected ',' or ']' in extras", 12],
    ["flask==", "expected a version", 8],
    ["flask>=1.*", "only allowed with == and !=", 8],
    ["flask~=2", "~= needs at least two", 8],
    ["flask==banana", "not a valid PEP 440 version", 8],
    ["flask; python_version >> '3'", "expected a marker variable", 24],
    ["flask; pyton_version == '3'", 'unknown marker variable "pyton_version"', 8],
    ["flask @ https://x.invalid/f.whl;python_version<'3'", "needs a space before ';'", 32],
    ["flask (>=1", "expected ')'", 11],
  ])("rejects %j with a located message", (text, message, column) => {
    try {
      parseRequirement(text, { file: "requirements.txt", line: 3, column: 1 });
      expect.unreachable();
    } catch (e) {
      expect(isSlimwheelError(e)).toBe(true);
      if (!isSlimwheelError(e)) return;
      expect(e.message).toContain(message);
      expect(e.location).toBe(`requirements.txt:3:${column}`);
      expect(e.code).toBe("input");
    }
  });
});

// ----- properties ---------------------------------------------------------------------------

const nameArb = fc
  .tuple(
    fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    fc.array(fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789._-"), { maxLength: 12 }),
    fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789"),
  )
  .map(([a, mid, z]) => (mid.length ? a + mid.join("") + z : a));

const versionArb = fc
  .tuple(
    fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 4 }),
    fc.option(fc.tuple(fc.constantFrom("a", "b", "rc"), fc.nat({ max: 9 })), { nil: undefined }),
    fc.option(fc.nat({ max: 9 }), { nil: undefined }),
  )
  .map(
    ([parts, pre, post]) =>
      parts.join(".") + (pre ? `${pre[0]}${pre[1]}` : "") + (post !== undefined ? `.post${post}` : ""),
  );

const clauseArb = fc.oneof(
  fc
    .tuple(fc.constantFrom("==", "!=", "<=", ">=", "<", ">"), versionArb)
    .map(([op, version]) => ({ op, version })),
  fc
    .tuple(fc.constantFrom("==", "!="), fc.array(fc.nat({ max: 20 }), { minLength: 1, maxLength: 3 }))
    .map(([op, p]) => ({
      op,
      version: `${p.join(".")}.*`,
    })),
  fc
    .tuple(fc.array(fc.nat({ max: 20 }), { minLength: 2, maxLength: 3 }))
    .map(([p]) => ({ op: "~=", version: p.join(".") })),
);

const markerArb: fc.Arbitrary<Marker> = fc.letrec<{ m: Marker }>((tie) => ({
  m: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({
      type: fc.constant("compare" as const),
      left: fc
        .constantFrom("python_version", "sys_platform", "platform_machine", "extra", "implementation_name")
        .map((name) => ({
          kind: "var" as const,
          name: name as "python_version",
        })),
      op: fc.constantFrom("==", "!=", "<", ">=", "in", "not in") as fc.Arbitrary<"==">,
      right: fc.stringMatching(/^[a-z0-9._ -]{0,8}$/).map((value) => ({ kind: "str" as const, value })),
    }),
    fc.record({
      type: fc.constantFrom("and" as const, "or" as const),
      items: fc.array(tie("m"), { minLength: 2, maxLength: 3 }),
    }),
  ),
})).m;

const requirementArb: fc.Arbitrary<Requirement> = fc
  .record({
    name: nameArb,
    extras: fc.uniqueArray(nameArb, { maxLength: 3 }),
    specifier: fc.array(clauseArb, { maxLength: 3 }),
    url: fc.option(
      fc.constantFrom(
        "https://files.example.invalid/p-1.0.tar.gz",
        "git+https://example.invalid/r.git@v1",
        "file:///src/pkg",
      ),
      {
        nil: undefined,
      },
    ),
    marker: fc.option(markerArb, { nil: undefined }),
  })
  .map((r) =>
    parseRequirement(
      formatRequirement({ ...r, key: "", specifier: r.url ? [] : (r.specifier as Requirement["specifier"]) }),
    ),
  );

/** Same-level and/or items are associative; the parser flattens them, so compare flattened trees. */
function flatten(m: Marker | undefined): unknown {
  if (!m) return undefined;
  if (m.type === "compare") return m;
  const items = m.items.flatMap((i) =>
    i.type === m.type ? (flatten(i) as { items: unknown[] }).items : [flatten(i)],
  );
  return { type: m.type, items };
}

describe("PEP 508 properties", () => {
  it("format ∘ parse is the identity on parsed requirements (10k cases)", () => {
    fc.assert(
      fc.property(requirementArb, (r) => {
        const again = parseRequirement(formatRequirement(r));
        expect({ ...again, marker: flatten(again.marker) }).toEqual({ ...r, marker: flatten(r.marker) });
        expect(formatRequirement(again)).toBe(formatRequirement(r));
      }),
      { numRuns: 10_000 },
    );
  });

  it("arbitrary text either parses or throws the project's typed input error (10k cases)", () => {
    const alphabet = fc.constantFrom(
      ..."abcXYZ019 ._-[],;()<>=!~@:/'\"*+\t",
      "and",
      "or",
      "in",
      "not",
      "python_version",
      "extra",
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.array(alphabet, { maxLength: 25 }).map((a) => a.join("")),
        ),
        (text) => {
          try {
            parseRequirement(text, { file: "f", line: 1 });
          } catch (e) {
            if (!isSlimwheelError(e) || e.code !== "input" || !e.location?.startsWith("f:1:")) throw e;
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
