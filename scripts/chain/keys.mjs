// A consortium member's keys, for its entry in a consortium file (scripts/chain/genesis.mjs):
// a governance account (sr25519; council member, deployer, treasury key if chosen), its
// validator's Aura (sr25519) and GRANDPA (ed25519) keys, all derived from one new mnemonic, and
// its node's libp2p key (ed25519; `--node-key`) with the peer id node authorization lists.
//
// Usage: node scripts/chain/keys.mjs            prints one member's keys as JSON
// The mnemonic and the node key are secrets: keep them where the member keeps its other keys;
// only the addresses and the peer id go into the consortium file.
import { pathToFileURL } from 'node:url'
import { Keyring } from '@polkadot/keyring'
import { u8aToHex } from '@polkadot/util'
import { base58Encode, cryptoWaitReady, ed25519PairFromSeed, mnemonicGenerate, randomAsU8a } from '@polkadot/util-crypto'

/** A libp2p peer id (identity multihash of the protobuf-encoded ed25519 public key), base58. */
export const peerIdOf = (nodeKey) => {
  const { publicKey } = ed25519PairFromSeed(nodeKey)
  return base58Encode(new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...publicKey]))
}

/** The node key of the local consortium's validator `i` (0-based): 31 zero bytes, then i + 1. */
export const localNodeKey = (i) => {
  const key = new Uint8Array(32)
  key[31] = i + 1
  return key
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await cryptoWaitReady()
  const mnemonic = mnemonicGenerate(24)
  const sr25519 = new Keyring({ type: 'sr25519', ss58Format: 42 })
  const ed25519 = new Keyring({ type: 'ed25519', ss58Format: 42 })
  const nodeKey = randomAsU8a(32)
  console.log(JSON.stringify({
    mnemonic,
    account: sr25519.addFromUri(mnemonic).address,
    aura: sr25519.addFromUri(`${mnemonic}//aura`).address,
    grandpa: ed25519.addFromUri(`${mnemonic}//grandpa`).address,
    node_key: u8aToHex(nodeKey).slice(2),
    peer_id: peerIdOf(nodeKey),
  }, null, 1))
}
