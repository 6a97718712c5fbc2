/**
 * Fuzzing building blocks: a seeded PRNG, byte- and token-level mutators for text and binary
 * inputs, a tree mutator for parsed JSON/TOML documents, and writers for the binary formats the
 * targets read (ustar archives, ELF objects). Test-only: nothing here is shipped.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";

/** A small deterministic PRNG (mulberry32), seeded per case so every input can be regenerated. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** Small numbers more often than large ones. */
  small(max: number): number {
    return Math.floor(max ** this.next()) - 1 + (this.bool(0.5) ? 1 : 0);
  }
}

/** A 32-bit seed for case `index` of `target` in a run seeded with `seed`. */
export function caseSeed(seed: number, target: string, index: number): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < target.length; i++) h = Math.imul(h ^ target.charCodeAt(i), 16777619);
  h = Math.imul(h ^ index, 2246822507);
  h ^= h >>> 13;
  h = Math.imul(h, 3266489909);
  return (h ^ (h >>> 16)) >>> 0;
}

export const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Characters that tend to break parsers: delimiters, quotes, escapes, controls, odd Unicode. */
const NASTY = [
  "\n",
  "\r\n",
  "\r",
  "\t",
  " ",
  "\0",
  "\\",
  "\\\n",
  '"',
  "'",
  '"""',
  "#",
  ";",
  ":",
  "=",
  "==",
  ",",
  "[",
  "]",
  "{",
  "}",
  "(",
  ")",
  "@",
  "*",
  ".*",
  "-",
  "--",
  "~",
  "^",
  "|",
  "||",
  "<",
  ">",
  "!",
  "/",
  "../",
  "%",
  "$",
  "\u2028",
  "\ufeff",
  "\ud800",
  "é",
  "😀",
  "\u0085",
  "\u00a0",
  "__proto__",
  "constructor",
  "toString",
  "0",
  "-1",
  "1e400",
  "9007199254740993",
  "NaN",
  "",
];

export interface TextMutationOptions {
  /** Target-specific tokens inserted or substituted (keywords, operators, option names). */
  readonly tokens?: readonly string[];
  /** Other valid inputs, for splicing. */
  readonly corpus?: readonly string[];
}

/** One to several stacked mutations of a text input: char, token, range and line level. */
export function mutateText(input: string, rng: Rng, opts: TextMutationOptions = {}): string {
  let s = input;
  const tokens = opts.tokens?.length ? [...opts.tokens, ...NASTY] : NASTY;
  const rounds = 1 + rng.small(8);
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(s.length + 1);
    const len = 1 + rng.small(Math.min(64, s.length + 1));
    switch (rng.int(13)) {
      case 0: // replace one char by a random code unit
        s =
          s.slice(0, at) +
          String.fromCharCode(rng.bool(0.8) ? rng.int(128) : rng.int(0x10000)) +
          s.slice(at + 1);
        break;
      case 1: // insert a token
        s = s.slice(0, at) + rng.pick(tokens) + s.slice(at);
        break;
      case 2: // replace a range by a token
        s = s.slice(0, at) + rng.pick(tokens) + s.slice(at + len);
        break;
      case 3: // delete a range
        s = s.slice(0, at) + s.slice(at + len);
        break;
      case 4: {
        // duplicate a range somewhere else
        const chunk = s.slice(at, at + len);
        const to = rng.int(s.length + 1);
        s = s.slice(0, to) + chunk + s.slice(to);
        break;
      }
      case 5: {
        // repeat a range many times (blow-ups: nesting, long names, many items)
        const chunk = s.slice(at, at + Math.min(len, 8)) || rng.pick(tokens) || "(";
        s = s.slice(0, at) + chunk.repeat(2 + rng.small(2000)) + s.slice(at);
        break;
      }
      case 6: // truncate
        s = s.slice(0, at);
        break;
      case 7: {
        // line-level: delete, duplicate or swap lines
        const lines = s.split("\n");
        const i = rng.int(lines.length);
        const j = rng.int(lines.length);
        const op = rng.int(3);
        if (op === 0) lines.splice(i, 1);
        else if (op === 1) lines.splice(j, 0, lines[i]!);
        else [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        s = lines.join("\n");
        break;
      }
      case 8: {
        // splice with another input
        const other = opts.corpus?.length ? rng.pick(opts.corpus) : s;
        const from = rng.int(other.length + 1);
        s = s.slice(0, at) + other.slice(from, from + 1 + rng.small(400)) + s.slice(at + len);
        break;
      }
      case 9: {
        // replace a number by an interesting one
        const m = [...s.matchAll(/\d+/g)];
        if (m.length) {
          const hit = rng.pick(m);
          const n = rng.pick([
            "0",
            "-1",
            "4294967296",
            "9007199254740993",
            "1e308",
            "00",
            "1.2.3.4.5.6.7",
            "",
          ]);
          s = s.slice(0, hit.index) + n + s.slice(hit.index + hit[0].length);
        }
        break;
      }
      case 10: {
        // swap quote styles / drop a quote
        const q = s.indexOf(rng.pick(['"', "'", "[", "]", "{", "}", "(", ")"]), at);
        if (q >= 0) s = s.slice(0, q) + rng.pick(['"', "'", "", "\\", "[[", "]]"]) + s.slice(q + 1);
        break;
      }
      case 11: // flip case of a range
        s =
          s.slice(0, at) +
          (rng.bool() ? s.slice(at, at + len).toUpperCase() : s.slice(at, at + len).toLowerCase()) +
          s.slice(at + len);
        break;
      default: // insert whitespace or a newline
        s = s.slice(0, at) + rng.pick([" ", "\t", "\n", "\n    ", "\r\n", "\\\n"]) + s.slice(at);
    }
    if (s.length > 200_000) s = s.slice(0, 200_000);
  }
  return s;
}

const INTERESTING_16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x10000, 0xfffffffe, 64, 4096];

/** Stacked byte-level mutations: bit flips, interesting integers at random offsets, range edits. */
export function mutateBytes(input: Buffer, rng: Rng, corpus: readonly Buffer[] = []): Buffer {
  let b = Buffer.from(input);
  const rounds = 1 + rng.small(8);
  for (let r = 0; r < rounds; r++) {
    const at = b.length ? rng.int(b.length) : 0;
    switch (rng.int(9)) {
      case 0:
        if (b.length) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length) b[at] = rng.pick([0, 1, 0x7f, 0x80, 0xff, 0x20, 0x30]);
        break;
      case 2:
        if (at + 2 <= b.length) b.writeUInt16LE(rng.pick(INTERESTING_16), at);
        break;
      case 3:
        if (at + 4 <= b.length)
          rng.bool()
            ? b.writeUInt32LE(rng.pick(INTERESTING_32), at)
            : b.writeUInt32BE(rng.pick(INTERESTING_32), at);
        break;
      case 4:
        if (at + 8 <= b.length)
          b.writeBigUInt64LE(rng.pick([0n, 1n, 0xffffffffffffffffn, 0x7fffffffffffffffn, 1n << 53n]), at);
        break;
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      case 6: {
        // delete a range
        const len = 1 + rng.small(Math.min(1024, b.length + 1));
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
        break;
      }
      case 7: {
        // duplicate a range
        const len = 1 + rng.small(Math.min(1024, b.length + 1));
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
        break;
      }
      default: {
        // splice from another input
        const other = corpus.length ? rng.pick(corpus) : b;
        const from = other.length ? rng.int(other.length) : 0;
        const len = 1 + rng.small(512);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + len), b.subarray(at + len)]);
      }
    }
  }
  return b;
}

/** Values that break code expecting another type (JSON and TOML documents). */
export function oddValue(rng: Rng, json: boolean): unknown {
  const values: unknown[] = [
    0,
    -1,
    1.5,
    2 ** 53 + 2,
    "",
    "x",
    "__proto__",
    "1.0",
    "==1.0",
    "not a url",
    "http://[::1",
    ";",
    true,
    false,
    [],
    [1],
    ["a", 2],
    {},
    { a: 1 },
    { name: 1 },
    "x".repeat(1000),
  ];
  if (json) values.push(null, { __proto__: null, constructor: 1 });
  return rng.pick(values);
}

type Tree = Record<string, unknown> | unknown[];

function containers(v: unknown, out: Tree[], depth = 0): Tree[] {
  if (depth > 30) return out;
  if (Array.isArray(v)) {
    out.push(v);
    for (const x of v) containers(x, out, depth + 1);
  } else if (typeof v === "object" && v !== null && !(v instanceof Date)) {
    out.push(v as Record<string, unknown>);
    for (const x of Object.values(v)) containers(x, out, depth + 1);
  }
  return out;
}

/**
 * Mutates a parsed document in place: a value replaced by one of another type, a key deleted or
 * renamed, an array element duplicated or removed, a subtree copied elsewhere.
 */
export function mutateTree(doc: unknown, rng: Rng, json: boolean): void {
  const rounds = 1 + rng.small(4);
  for (let r = 0; r < rounds; r++) {
    const all = containers(doc, []);
    if (!all.length) return;
    const c = rng.pick(all);
    const keys = Array.isArray(c) ? c.map((_, i) => i) : Object.keys(c);
    const rec = c as Record<string | number, unknown>;
    const key = keys.length ? rng.pick(keys as (string | number)[]) : undefined;
    switch (rng.int(6)) {
      case 0:
      case 1:
        if (key !== undefined) rec[key] = oddValue(rng, json);
        break;
      case 2:
        if (key !== undefined) {
          if (Array.isArray(c)) c.splice(key as number, 1);
          else delete rec[key];
        }
        break;
      case 3:
        if (key !== undefined) {
          if (Array.isArray(c)) c.push(structuredClone(c[key as number]));
          else {
            rec[rng.pick(["__proto__", "constructor", "x", `${key}${key}`, String(key).toUpperCase()])] =
              structuredClone(rec[key]);
          }
        }
        break;
      case 4: {
        // copy a subtree into another container
        const other = rng.pick(all);
        const dst = rng.pick(all) as Record<string | number, unknown>;
        const k = Array.isArray(dst) ? dst.length : rng.pick(["x", "dependencies", "name", "markers"]);
        if (other !== dst) dst[k] = structuredClone(other);
        break;
      }
      default:
        if (key !== undefined && typeof rec[key] === "string")
          rec[key] = mutateText(rec[key] as string, rng, {});
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ustar archives

export interface TarEntry {
  readonly name: string;
  /** "0" file, "5" directory, "2" symlink, "1" hard link, "x" pax header, "L" GNU long name. */
  readonly type?: string;
  readonly data?: Buffer | string;
  readonly linkname?: string;
  /** Overrides the size field (a lie about the data that follows). */
  readonly size?: number;
  readonly mode?: number;
}

function octal(n: number, width: number): string {
  return `${n
    .toString(8)
    .padStart(width - 1, "0")
    .slice(-(width - 1))}\0`;
}

/** A ustar archive of `entries`, followed by the two zero blocks. */
export function tarOf(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? "");
    const h = Buffer.alloc(512);
    h.write(e.name.slice(0, 100), 0, "utf8");
    h.write(octal(e.mode ?? 0o644, 8), 100);
    h.write(octal(0, 8), 108);
    h.write(octal(0, 8), 116);
    h.write(octal(e.size ?? data.length, 12), 124);
    h.write(octal(0, 12), 136);
    h.write("        ", 148);
    h.write(e.type ?? "0", 156);
    if (e.linkname) h.write(e.linkname.slice(0, 100), 157);
    h.write("ustar\0", 257);
    h.write("00", 263);
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const gzip = (b: Buffer) => gzipSync(b, { level: 1 });

// ---------------------------------------------------------------------------------------------
// ELF objects

export interface ElfSpec {
  readonly cls: 32 | 64;
  readonly le: boolean;
  readonly machine: number;
  readonly needed: readonly string[];
  readonly soname?: string;
  readonly rpath?: string;
  readonly runpath?: string;
  readonly interp?: string;
  /** No PT_DYNAMIC at all (a static executable). */
  readonly static?: boolean;
  /** DT_STRTAB as a virtual address inside a PT_LOAD segment (as linkers write it) rather than a file offset. */
  readonly mapped?: boolean;
}

/** A minimal but well-formed ELF object: header, program headers, interp, dynamic section, strings. */
export function elfOf(spec: ElfSpec): Buffer {
  const is64 = spec.cls === 64;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const strings: string[] = [];
  const strOff = new Map<string, number>();
  let strSize = 1;
  const str = (s: string) => {
    if (!strOff.has(s)) {
      strOff.set(s, strSize);
      strings.push(s);
      strSize += Buffer.byteLength(s) + 1;
    }
    return strOff.get(s)!;
  };
  const dyn: [number, number][] = [];
  for (const n of spec.needed) dyn.push([1, str(n)]);
  if (spec.soname !== undefined) dyn.push([14, str(spec.soname)]);
  if (spec.rpath !== undefined) dyn.push([15, str(spec.rpath)]);
  if (spec.runpath !== undefined) dyn.push([29, str(spec.runpath)]);
  const phs: { type: number; offset: number; vaddr: number; filesz: number }[] = [];
  const phnum = (spec.interp !== undefined ? 1 : 0) + (spec.static ? 0 : 2);
  let off = ehsize + phnum * phentsize;
  const interpBuf = spec.interp !== undefined ? Buffer.from(`${spec.interp}\0`) : Buffer.alloc(0);
  if (spec.interp !== undefined) phs.push({ type: 3, offset: off, vaddr: off, filesz: interpBuf.length });
  off += interpBuf.length;
  const strtabOff = off;
  const strtab = Buffer.concat([Buffer.alloc(1), ...strings.map((s) => Buffer.from(`${s}\0`))]);
  off += strtab.length;
  const base = 0x400000;
  dyn.push([5, spec.mapped ? base + strtabOff : strtabOff], [10, strtab.length], [0, 0]);
  const entSize = is64 ? 16 : 8;
  const dynOff = off;
  const dynBuf = Buffer.alloc(dyn.length * entSize);
  const w = (b: Buffer, o: number, v: number) => {
    if (is64) spec.le ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o);
    else spec.le ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o);
  };
  dyn.forEach(([t, v], i) => {
    w(dynBuf, i * entSize, t);
    w(dynBuf, i * entSize + entSize / 2, v);
  });
  off += dynBuf.length;
  if (!spec.static) {
    phs.push({ type: 1, offset: 0, vaddr: base, filesz: off });
    phs.push({ type: 2, offset: dynOff, vaddr: base + dynOff, filesz: dynBuf.length });
  }
  const h = Buffer.alloc(ehsize);
  h.write("\x7fELF", 0, "latin1");
  h[4] = is64 ? 2 : 1;
  h[5] = spec.le ? 1 : 2;
  h[6] = 1;
  const u16 = (o: number, v: number) => (spec.le ? h.writeUInt16LE(v, o) : h.writeUInt16BE(v, o));
  const u32 = (b: Buffer, o: number, v: number) => (spec.le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  u16(0x10, 3);
  u16(0x12, spec.machine & 0xffff);
  u32(h, 0x14, 1);
  if (is64) {
    w(h, 0x20, ehsize);
    u16(0x34, ehsize);
    u16(0x36, phentsize);
    u16(0x38, phs.length);
  } else {
    u32(h, 0x1c, ehsize);
    u16(0x28, ehsize);
    u16(0x2a, phentsize);
    u16(0x2c, phs.length);
  }
  const ph = Buffer.alloc(phs.length * phentsize);
  phs.forEach((p, i) => {
    const o = i * phentsize;
    u32(ph, o, p.type);
    if (is64) {
      w(ph, o + 8, p.offset);
      w(ph, o + 16, p.vaddr);
      w(ph, o + 32, p.filesz);
      w(ph, o + 40, p.filesz);
    } else {
      u32(ph, o + 4, p.offset);
      u32(ph, o + 8, p.vaddr);
      u32(ph, o + 16, p.filesz);
      u32(ph, o + 20, p.filesz);
    }
  });
  return Buffer.concat([h, ph, interpBuf, strtab, dynBuf]);
}
