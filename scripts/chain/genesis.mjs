// Writes a consortium's raw genesis (the `genesis.raw.top` chopsticks and a node read) from the
// runtime Wasm itself: its GenesisBuilder API, run in chopsticks-core's executor, builds the
// storage of the runtime's default genesis config patched with the consortium (below); `:code` is
// the Wasm. No native node involved.
//
// The local consortium: Alice, Bob and Charlie are its member institutions' governance keys (the
// council; a motion needs 2 of 3) and its validators (their //Alice.. sr25519 Aura and ed25519
// GRANDPA keys), each with one authorised node (node keys 0x..01, 0x..02, 0x..03, peer ids
// derived from them); Alice holds the treasury key. Alice..Ferdie and their //stash accounts,
// and the consortium account (which council deployments run as), are endowed with 2^60 each.
//
// Usage: node scripts/chain/genesis.mjs <runtime.wasm> <genesis.json>
import { readFileSync, writeFileSync } from 'node:fs'
import { destroyWorker, runTask } from '@acala-network/chopsticks-core'
import { Keyring } from '@polkadot/keyring'
import { compactAddLength, compactStripLength, hexToU8a, stringToU8a, u8aToHex, u8aToString } from '@polkadot/util'
import { cryptoWaitReady, ed25519PairFromSeed } from '@polkadot/util-crypto'

const [wasmPath, outPath] = process.argv.slice(2)
if (!wasmPath || !outPath) {
  console.error('usage: genesis.mjs <runtime.wasm> <genesis.json>')
  process.exit(2)
}

const DEV_NAMES = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie']
const ENDOWMENT = 2 ** 60 // what contracts-node's dev spec gives; exact as a JS number
const CODE_KEY = u8aToHex(stringToU8a(':code'))
const CHILD_PREFIX = u8aToHex(stringToU8a(':child_storage:'))
const MEMBERS = ['Alice', 'Bob', 'Charlie']
const TREASURY = ['Alice']
// The account council deployments run as: `modl` ++ PalletId `cstdy/gv`, zero-padded (the
// runtime's `ConsortiumAccount`).
const CONSORTIUM_ACCOUNT = (() => {
  const raw = new Uint8Array(32)
  raw.set(stringToU8a('modlcstdy/gv'))
  return raw
})()

// A libp2p peer id (identity multihash of the protobuf-encoded ed25519 public key) of a node
// key: what `--node-key` of that secret makes the node announce.
const peerId = (nodeKey) => {
  const { publicKey } = ed25519PairFromSeed(nodeKey)
  return [0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...publicKey]
}
/** The node key of validator `i` (0-based): 31 zero bytes, then i + 1. */
const nodeKey = (i) => {
  const key = new Uint8Array(32)
  key[31] = i + 1
  return key
}

const wasm = u8aToHex(readFileSync(wasmPath))

// Runs one runtime API call on empty storage; returns the SCALE result and the storage written.
// Unresolved imports are allowed: the executor lacks `ext_offchain_set_authorized_nodes` (node
// authorization's offchain worker, which only a node runs); genesis never calls it.
const call = async (method, arg) => {
  const storage = new Map()
  const response = await runTask(
    { wasm, calls: [[method, [arg]]], mockSignatureHost: false, allowUnresolvedImports: true, runtimeLogLevel: 0 },
    {
      getStorage: async (key) => storage.get(key),
      getNextKey: async () => undefined,
      offchainGetStorage: async () => undefined,
      offchainTimestamp: async () => Date.now(),
      offchainRandomSeed: async () => u8aToHex(new Uint8Array(32)),
      offchainSubmitTransaction: async () => false,
    },
  )
  if ('Error' in response) throw new Error(`${method} failed: ${response.Error}`)
  return response.Call
}

try {
  await cryptoWaitReady()
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 })
  const account = (uri) => keyring.addFromUri(uri).address
  const endowed = [...DEV_NAMES.flatMap((name) => [`//${name}`, `//${name}//stash`]).map(account), keyring.encodeAddress(CONSORTIUM_ACCOUNT)]
  const ed25519 = new Keyring({ type: 'ed25519', ss58Format: 42 })

  // GenesisBuilder_get_preset(None) -> Option<Vec<u8>>: the default RuntimeGenesisConfig as JSON.
  const preset = hexToU8a((await call('GenesisBuilder_get_preset', '0x00')).result)
  if (preset[0] !== 1) throw new Error('the runtime has no default genesis preset')
  const config = JSON.parse(u8aToString(compactStripLength(preset.subarray(1))[1]))

  config.balances.balances = endowed.map((who) => [who, ENDOWMENT])
  config.aura.authorities = MEMBERS.map((name) => account(`//${name}`))
  config.grandpa.authorities = MEMBERS.map((name) => [ed25519.addFromUri(`//${name}`).address, 1])
  config.councilMembership.members = MEMBERS.map((name) => account(`//${name}`))
  config.treasury.members = TREASURY.map((name) => account(`//${name}`))
  config.nodeAuthorization.nodes = MEMBERS.map((name, i) => [peerId(nodeKey(i)), account(`//${name}`)])

  // GenesisBuilder_build_state(Vec<u8>) -> Result<(), String>; the state is its storage diff.
  const built = await call('GenesisBuilder_build_state', u8aToHex(compactAddLength(stringToU8a(JSON.stringify(config)))))
  if (built.result !== '0x00') {
    const message = u8aToString(compactStripLength(hexToU8a(built.result).subarray(1))[1])
    throw new Error(`GenesisBuilder_build_state rejected the config: ${message}`)
  }
  const top = {}
  for (const [key, value] of built.storageDiff) {
    if (key.startsWith(CHILD_PREFIX)) throw new Error(`unexpected child storage at genesis: ${key}`)
    if (value !== null) top[key] = value
  }
  top[CODE_KEY] = wasm

  const genesis = {
    // chopsticks answers system_chain with `id` (as contracts-node --dev: "Development") and
    // system_name with `name`.
    name: 'Custodia local consortium (chopsticks)',
    id: 'Development',
    properties: { ss58Format: 42, tokenDecimals: 12, tokenSymbol: 'UNIT' },
    genesis: { raw: { top } },
  }
  writeFileSync(outPath, `${JSON.stringify(genesis, null, 1)}\n`)
  console.log(`genesis: ${Object.keys(top).length} storage entries, ${endowed.length} endowed accounts, council ${MEMBERS.join(', ')} -> ${outPath}`)
} finally {
  await destroyWorker()
}
