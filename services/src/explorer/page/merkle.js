// RFC 9162 Merkle inclusion proofs with SHA-256, as custodia-merkle computes them, checked in
// the browser (WebCrypto) so that a patient need not take the explorer's word for anything;
// and the access-log entry a leaf holds, read from the leaf's own bytes (SCALE).
// Tested against custodia-merkle's vectors.json by merkle.test.mjs.

const subtle = globalThis.crypto.subtle;

export function fromHex(text) {
  const hex = text.startsWith("0x") ? text.slice(2) : text;
  if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) throw new Error("not hex: " + text);
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export function toHex(bytes) {
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(...parts) {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(length);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return new Uint8Array(await subtle.digest("SHA-256", all));
}

/** The hash of a leaf: SHA-256(0x00 ‖ leaf). */
export function leafHash(leaf) {
  return sha256(Uint8Array.of(0), leaf);
}

/** The hash of an inner node: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left, right) {
  return sha256(Uint8Array.of(1), left, right);
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * RFC 9162 §2.1.3.2: is the leaf with hash `leaf` at `index` of a tree of `size` leaves whose
 * root is `root`, by `path` (sibling hashes from the leaf up)? Sizes and indices are BigInts.
 */
export async function verifyInclusion(leaf, index, size, path, root) {
  index = BigInt(index);
  size = BigInt(size);
  if (index >= size) return false;
  let f = index;
  let s = size - 1n;
  let r = leaf;
  for (const p of path) {
    if (s === 0n) return false;
    if ((f & 1n) === 1n || f === s) {
      r = await nodeHash(p, r);
      if ((f & 1n) === 0n) {
        while ((f & 1n) === 0n && f !== 0n) { f >>= 1n; s >>= 1n; }
      }
    } else {
      r = await nodeHash(r, p);
    }
    f >>= 1n;
    s >>= 1n;
  }
  return s === 0n && equal(r, root);
}

/** The root of the empty tree: SHA-256 of nothing. */
export async function emptyRoot() {
  return sha256();
}

/**
 * RFC 9162 §2.1.4.2: is the tree of `oldSize` leaves with `oldRoot` a prefix of the tree of
 * `newSize` leaves with `newRoot`, by `proof`? (The log only grew: nothing logged was changed
 * or removed.) Sizes are BigInts or numbers.
 */
export async function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  oldSize = BigInt(oldSize);
  newSize = BigInt(newSize);
  if (oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && equal(oldRoot, newRoot);
  if (oldSize === 0n) return proof.length === 0 && equal(oldRoot, await emptyRoot());
  if (proof.length === 0) return false;
  const path = (oldSize & (oldSize - 1n)) === 0n ? [oldRoot, ...proof] : [...proof];
  let f = oldSize - 1n;
  let s = newSize - 1n;
  while ((f & 1n) === 1n) { f >>= 1n; s >>= 1n; }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (s === 0n) return false;
    if ((f & 1n) === 1n || f === s) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((f & 1n) === 0n) {
        while ((f & 1n) === 0n && f !== 0n) { f >>= 1n; s >>= 1n; }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    f >>= 1n;
    s >>= 1n;
  }
  return equal(fr, oldRoot) && equal(sr, newRoot) && s === 0n;
}

/** A SCALE reader over bytes. */
class Reader {
  constructor(bytes) { this.bytes = bytes; this.at = 0; }
  take(n) {
    if (this.at + n > this.bytes.length) throw new Error("leaf too short");
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  u8() { return this.take(1)[0]; }
  u32() { const b = this.take(4); return (b[0] | (b[1] << 8) | (b[2] << 16)) + b[3] * 2 ** 24; }
  u64() { const b = this.take(8); let v = 0n; for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]); return v; }
  id() { return toHex(this.take(32)); }
  done() { return this.at === this.bytes.length; }
}

const PURPOSES = ["treatment", "emergency_treatment", "payment", "operations", "research", "public_health", "patient_request", "legal"];
const BREAK_GLASS = ["life_threatening", "patient_incapacitated", "urgent_care", "legal_obligation"];

function readEntry(bytes, withAccessTime) {
  const r = new Reader(bytes);
  const entry = { institution: r.u32(), account: r.id(), seq: r.u64(), patient: r.id() };
  const target = r.u8();
  if (target === 0) entry.target = { record: r.id(), version: r.u32() };
  else if (target === 1) entry.query = r.id();
  else throw new Error("unknown target");
  const purpose = r.u8();
  if (purpose >= PURPOSES.length) throw new Error("unknown purpose");
  entry.purpose = PURPOSES[purpose];
  if (withAccessTime) {
    entry.accessed_at = r.u64();
    entry.at = r.u64();
  } else {
    entry.at = r.u64();
    entry.accessed_at = entry.at;
  }
  const authorization = r.u8();
  if (authorization === 0) entry.authorization = { consent: r.u64() };
  else if (authorization === 1) {
    const reason = r.u8();
    if (reason >= BREAK_GLASS.length) throw new Error("unknown break-glass reason");
    entry.authorization = { break_glass: BREAK_GLASS[reason] };
  } else throw new Error("unknown authorization");
  if (!r.done()) throw new Error("leaf too long");
  return entry;
}

/**
 * The access-log entry a leaf holds (as custodia-types' `Entry::from_leaf`): this revision's
 * layout, or revision 1's (no access time), told apart by length. Null if it is neither.
 */
export function entryFromLeaf(bytes) {
  for (const withAccessTime of [true, false]) {
    try { return readEntry(bytes, withAccessTime); } catch { /* try the other layout */ }
  }
  return null;
}
