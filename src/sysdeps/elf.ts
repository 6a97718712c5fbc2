/**
 * A small ELF reader (System V gABI): the dynamic section's DT_NEEDED, DT_SONAME, DT_RPATH and
 * DT_RUNPATH, PT_INTERP, the machine, and which libc the object links (glibc's libc.so.6 or musl's
 * libc.musl-ARCH.so.1). 32/64-bit, little/big endian. Every offset is bounds-checked: a malformed
 * file is an input error, never a crash.
 */
import { SlimwheelError } from "../errors.js";

export interface ElfInfo {
  readonly class: 32 | 64;
  readonly machine: "x86_64" | "aarch64" | "i386" | "arm" | "other";
  readonly needed: readonly string[];
  readonly soname?: string;
  readonly rpath: readonly string[];
  readonly runpath: readonly string[];
  /** PT_INTERP: the program interpreter (dynamic loader) an executable asks for, if any. */
  readonly interp?: string;
  /** From DT_NEEDED: glibc, musl, or unknown (statically linked, or no libc needed). */
  readonly libc: "glibc" | "musl" | "unknown";
}

const MACHINES: Record<number, ElfInfo["machine"]> = { 62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm" };
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT = { NULL: 0, NEEDED: 1, STRTAB: 5, STRSZ: 10, SONAME: 14, RPATH: 15, RUNPATH: 29 } as const;

export const isElf = (b: Uint8Array) =>
  b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;

export function parseElf(buf: Buffer, what = "file"): ElfInfo {
  const bad = (why: string): never => {
    throw new SlimwheelError("input", `${what} is not a valid ELF file: ${why}`, {
      hint: "the extension module may be truncated or corrupt",
    });
  };
  if (!isElf(buf)) bad("no ELF magic");
  if (buf.length < 52) bad("truncated header");
  const cls = buf[4] === 2 ? 64 : buf[4] === 1 ? 32 : bad(`unknown class ${buf[4]}`);
  const le = buf[5] === 1 ? true : buf[5] === 2 ? false : bad(`unknown byte order ${buf[5]}`);
  const need = (off: number, len: number) => {
    if (!Number.isSafeInteger(off) || off < 0 || off + len > buf.length) bad(`offset ${off} out of range`);
  };
  const u16 = (o: number) => {
    need(o, 2);
    return le ? buf.readUInt16LE(o) : buf.readUInt16BE(o);
  };
  const u32 = (o: number) => {
    need(o, 4);
    return le ? buf.readUInt32LE(o) : buf.readUInt32BE(o);
  };
  const u64 = (o: number) => {
    need(o, 8);
    const v = le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  const word = cls === 64 ? u64 : u32;
  if (cls === 64 && buf.length < 64) bad("truncated header");
  const machine = MACHINES[u16(0x12)] ?? "other";
  const phoff = cls === 64 ? u64(0x20) : u32(0x1c);
  const phentsize = u16(cls === 64 ? 0x36 : 0x2a);
  const phnum = u16(cls === 64 ? 0x38 : 0x2c);
  if (phnum > 0 && phentsize < (cls === 64 ? 56 : 32)) bad(`program header size ${phentsize}`);
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let dynamic: { offset: number; size: number } | undefined;
  let interp: string | undefined;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = u32(p);
    const offset = cls === 64 ? u64(p + 8) : u32(p + 4);
    const vaddr = cls === 64 ? u64(p + 16) : u32(p + 8);
    const filesz = cls === 64 ? u64(p + 32) : u32(p + 16);
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    if (type === PT_DYNAMIC) dynamic = { offset, size: filesz };
    if (type === PT_INTERP) {
      need(offset, filesz);
      const end = buf.indexOf(0, offset);
      interp = buf.toString("utf8", offset, end >= offset && end < offset + filesz ? end : offset + filesz);
    }
  }
  const none: ElfInfo = { class: cls, machine, needed: [], rpath: [], runpath: [], libc: "unknown" };
  if (interp) Object.assign(none, { interp });
  if (!dynamic) return none; // statically linked
  const entSize = cls === 64 ? 16 : 8;
  const entries: [number, number][] = [];
  for (let o = dynamic.offset; o + entSize <= dynamic.offset + dynamic.size; o += entSize) {
    const tag = word(o);
    const val = word(o + entSize / 2);
    if (tag === DT.NULL) break;
    entries.push([tag, val]);
  }
  const strtabAddr = entries.find(([t]) => t === DT.STRTAB)?.[1];
  const strsz = entries.find(([t]) => t === DT.STRSZ)?.[1] ?? 0;
  if (strtabAddr === undefined) return none;
  const seg = loads.find((l) => strtabAddr >= l.vaddr && strtabAddr < l.vaddr + l.filesz);
  const strtab = seg ? strtabAddr - seg.vaddr + seg.offset : strtabAddr;
  const str = (off: number) => {
    if (off >= strsz && strsz > 0) bad(`string offset ${off} past the string table`);
    const start = strtab + off;
    need(start, 1);
    const end = buf.indexOf(0, start);
    if (end < 0) bad("unterminated string");
    return buf.toString("utf8", start, end);
  };
  const needed = entries.filter(([t]) => t === DT.NEEDED).map(([, v]) => str(v));
  const list = (tag: number) =>
    entries.filter(([t]) => t === tag).flatMap(([, v]) => str(v).split(":").filter(Boolean));
  const sonameEntry = entries.find(([t]) => t === DT.SONAME);
  const libc = needed.some((n) => /^libc\.musl-[^/]+\.so\.1$/.test(n) || n === "libc.musl.so.1")
    ? "musl"
    : needed.some((n) => n === "libc.so.6")
      ? "glibc"
      : "unknown";
  return {
    class: cls,
    machine,
    needed,
    soname: sonameEntry ? str(sonameEntry[1]) : undefined,
    rpath: list(DT.RPATH),
    runpath: list(DT.RUNPATH),
    interp,
    libc,
  };
}
