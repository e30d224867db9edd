// The page's proof checker against custodia-merkle's published vectors (the same file the
// Rust crate is tested with), and against single-bit tampering. Run: node --test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fromHex, leafHash, verifyInclusion, verifyConsistency, entryFromLeaf, toHex } from "./merkle.js";

const vectors = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../../../contracts/merkle/vectors.json", import.meta.url)), "utf8"),
);

test("every inclusion vector verifies", async () => {
  assert.ok(vectors.inclusion.length > 0);
  for (const v of vectors.inclusion) {
    const leaf = await leafHash(fromHex(vectors.leaves[v.index]));
    const ok = await verifyInclusion(leaf, v.index, v.size, v.path.map(fromHex), fromHex(vectors.roots[v.size]));
    assert.equal(ok, true, `index ${v.index} of ${v.size}`);
  }
});

test("a flipped bit in the leaf, the path or the root fails", async () => {
  for (const v of vectors.inclusion.filter((v) => v.path.length > 0)) {
    const root = fromHex(vectors.roots[v.size]);
    const path = v.path.map(fromHex);
    const leafBytes = fromHex(vectors.leaves[v.index]);
    const tamperedLeaf = Uint8Array.from([...leafBytes, 0]);
    assert.equal(await verifyInclusion(await leafHash(tamperedLeaf), v.index, v.size, path, root), false);
    const leaf = await leafHash(leafBytes);
    for (let i = 0; i < path.length; i++) {
      const bad = path.map((p) => p.slice());
      bad[i][0] ^= 1;
      assert.equal(await verifyInclusion(leaf, v.index, v.size, bad, root), false, `path ${i}`);
    }
    const badRoot = root.slice();
    badRoot[31] ^= 0x80;
    assert.equal(await verifyInclusion(leaf, v.index, v.size, path, badRoot), false);
    assert.equal(await verifyInclusion(leaf, v.index + 1, v.size, path, root), false, "another index");
  }
});

test("an entry reads from its leaf in either layout, and nothing else does", () => {
  const id = (b) => new Uint8Array(32).fill(b);
  const u32 = (n) => Uint8Array.of(n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24);
  const u64 = (n) => { const b = new Uint8Array(8); let v = BigInt(n); for (let i = 0; i < 8; i++) { b[i] = Number(v & 255n); v >>= 8n; } return b; };
  const cat = (...parts) => Uint8Array.from(parts.flatMap((p) => [...p]));
  const head = cat(u32(2), id(7), u64(5), id(9), [0], id(3), u32(4), [1]);
  const current = cat(head, u64(1_700_000_000_000), u64(1_700_000_006_000), [1, 0]);
  const entry = entryFromLeaf(current);
  assert.deepEqual(entry, {
    institution: 2, account: toHex(id(7)), seq: 5n, patient: toHex(id(9)),
    target: { record: toHex(id(3)), version: 4 }, purpose: "emergency_treatment",
    accessed_at: 1_700_000_000_000n, at: 1_700_000_006_000n, authorization: { break_glass: "life_threatening" },
  });
  const revision1 = cat(head, u64(1_700_000_006_000), [0], u64(12));
  assert.equal(entryFromLeaf(revision1).accessed_at, 1_700_000_006_000n);
  assert.deepEqual(entryFromLeaf(revision1).authorization, { consent: 12n });
  assert.equal(entryFromLeaf(cat(current, [0])), null);
  assert.equal(entryFromLeaf(current.subarray(0, 40)), null);
});

test("every consistency vector verifies, and a flipped bit or swapped roots fail", async () => {
  assert.ok(vectors.consistency.length > 0);
  for (const v of vectors.consistency) {
    const oldRoot = fromHex(vectors.roots[v.old]);
    const newRoot = fromHex(vectors.roots[v.new]);
    const proof = v.proof.map(fromHex);
    assert.equal(await verifyConsistency(v.old, v.new, oldRoot, newRoot, proof), true, `${v.old} -> ${v.new}`);
    for (let i = 0; i < proof.length; i++) {
      const bad = proof.map((p) => p.slice());
      bad[i][5] ^= 4;
      assert.equal(await verifyConsistency(v.old, v.new, oldRoot, newRoot, bad), false, `${v.old} -> ${v.new}, hash ${i}`);
    }
    if (v.old !== v.new) {
      const badRoot = oldRoot.slice();
      badRoot[0] ^= 1;
      assert.equal(await verifyConsistency(v.old, v.new, badRoot, newRoot, proof), false, "an altered old root");
      assert.equal(await verifyConsistency(v.new, v.old, newRoot, oldRoot, proof), false, "shrinking");
    }
  }
});

test("the contracts' own encodings read as the entries they are (entry-vectors.json, written by Rust)", () => {
  const file = JSON.parse(readFileSync(fileURLToPath(new URL("./entry-vectors.json", import.meta.url)), "utf8"));
  assert.equal(file.leaves.length, 3);
  for (const { leaf, entry } of file.leaves) {
    const read = entryFromLeaf(fromHex(leaf));
    assert.ok(read, leaf);
    const asJson = JSON.parse(JSON.stringify(read, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
    assert.deepEqual(asJson, entry);
  }
});
