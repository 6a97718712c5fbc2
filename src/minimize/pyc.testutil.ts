/** A .pyc header (PEP 552: magic, flags, source mtime, source size), for tests. */
export function pycHeader(flags: number, mtime: number, size: number, length = 16): Buffer {
  const b = Buffer.alloc(length);
  b.writeUInt32LE(0x0a0d0da7, 0);
  b.writeUInt32LE(flags, 4);
  b.writeUInt32LE(mtime, 8);
  b.writeUInt32LE(size, 12);
  return b;
}
