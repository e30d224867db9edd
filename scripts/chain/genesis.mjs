// Writes a consortium's raw genesis (the `genesis.raw.top` chopsticks and a node read) from the
// runtime Wasm itself: its GenesisBuilder API, run in chopsticks-core's executor, builds the
// storage of the runtime's default genesis config patched with the consortium; `:code` is the
// Wasm. No native node involved.
//
// The consortium is a JSON file (keys from scripts/chain/keys.mjs, SS58 addresses):
//   { "council":    [member governance accounts],      a motion needs more than half
//     "treasury":   [accounts that may transfer funds],
//     "validators": [{ "aura": sr25519, "grandpa": ed25519, "peer_id": "12D3KooW…", "owner": account }],
//     "endowed":    [[account, amount], …] }
// Without one, the local consortium of scripts/chain-start.sh: Alice, Bob and Charlie are the
// council and the validators (their //Name sr25519 Aura and ed25519 GRANDPA keys), each with one
// authorised node (node keys 0x00…01, 0x00…02, 0x00…03); Alice holds the treasury key;
// Alice..Ferdie and their //stash accounts are endowed with 2^60 each. The consortium account
// (which council deployments run as) is always endowed.
//
// Usage: node scripts/chain/genesis.mjs <runtime.wasm> <genesis.json> [consortium.json | --validators N]
import { readFileSync, writeFileSync } from 'node:fs'
import { destroyWorker, runTask } from '@acala-network/chopsticks-core'
import { Keyring } from '@polkadot/keyring'
import { compactAddLength, compactStripLength, hexToU8a, stringToU8a, u8aToHex, u8aToString } from '@polkadot/util'
import { base58Decode, cryptoWaitReady } from '@polkadot/util-crypto'
import { localNodeKey, peerIdOf } from './keys.mjs'

const [wasmPath, outPath, ...rest] = process.argv.slice(2)
const validatorsFlag = rest[0] === '--validators' ? Number(rest[1]) : undefined
const consortiumPath = validatorsFlag === undefined ? rest[0] : undefined
if (!wasmPath || !outPath || (validatorsFlag !== undefined && !(validatorsFlag >= 1 && validatorsFlag <= 6))) {
  console.error('usage: genesis.mjs <runtime.wasm> <genesis.json> [consortium.json | --validators N (1-6)]')
  process.exit(2)
}

const DEV_NAMES = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie']
const ENDOWMENT = 2 ** 60 // exact as a JS number
const CODE_KEY = u8aToHex(stringToU8a(':code'))
const CHILD_PREFIX = u8aToHex(stringToU8a(':child_storage:'))
// The account council deployments run as: `modl` ++ PalletId `cstdy/gv`, zero-padded (the
// runtime's `ConsortiumAccount`).
const CONSORTIUM_ACCOUNT = (() => {
  const raw = new Uint8Array(32)
  raw.set(stringToU8a('modlcstdy/gv'))
  return raw
})()

/**
 * The local consortium (see above) with `validators` validators (3 by default; scripts/network.sh
 * asks 4): the council stays Alice, Bob and Charlie (the demo's admins, whom the tests expect),
 * a fourth validator is Dave's.
 */
const localConsortium = (validators = 3) => {
  const sr25519 = new Keyring({ type: 'sr25519', ss58Format: 42 })
  const ed25519 = new Keyring({ type: 'ed25519', ss58Format: 42 })
  const account = (name) => sr25519.addFromUri(`//${name}`).address
  const members = DEV_NAMES.slice(0, validators)
  return {
    council: DEV_NAMES.slice(0, 3).map(account),
    treasury: [account('Alice')],
    validators: members.map((name, i) => ({
      aura: account(name),
      grandpa: ed25519.addFromUri(`//${name}`).address,
      peer_id: peerIdOf(localNodeKey(i)),
      owner: account(name),
    })),
    endowed: DEV_NAMES.flatMap((name) => [`//${name}`, `//${name}//stash`]).map((uri) => [sr25519.addFromUri(uri).address, ENDOWMENT]),
  }
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
  const consortium = consortiumPath ? JSON.parse(readFileSync(consortiumPath, 'utf8')) : localConsortium(validatorsFlag)
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 })
  const consortiumAccount = keyring.encodeAddress(CONSORTIUM_ACCOUNT)

  // GenesisBuilder_get_preset(None) -> Option<Vec<u8>>: the default RuntimeGenesisConfig as JSON.
  const preset = hexToU8a((await call('GenesisBuilder_get_preset', '0x00')).result)
  if (preset[0] !== 1) throw new Error('the runtime has no default genesis preset')
  const config = JSON.parse(u8aToString(compactStripLength(preset.subarray(1))[1]))

  config.balances.balances = [...consortium.endowed, [consortiumAccount, ENDOWMENT]]
  config.aura.authorities = consortium.validators.map((v) => v.aura)
  config.grandpa.authorities = consortium.validators.map((v) => [v.grandpa, 1])
  config.councilMembership.members = consortium.council
  config.treasury.members = consortium.treasury
  config.nodeAuthorization.nodes = consortium.validators.map((v) => [[...base58Decode(v.peer_id)], v.owner])

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

  // A raw chain spec, as a Substrate node reads it (chopsticks reads the same file, ignoring what
  // it does not use, and answers system_chain with `id`).
  const genesis = {
    name: 'Custodia local consortium',
    id: 'custodia_local',
    chainType: 'Local',
    bootNodes: [],
    telemetryEndpoints: null,
    protocolId: 'custodia',
    properties: { ss58Format: 42, tokenDecimals: 12, tokenSymbol: 'UNIT' },
    codeSubstitutes: {},
    genesis: { raw: { top, childrenDefault: {} } },
  }
  writeFileSync(outPath, `${JSON.stringify(genesis, null, 1)}\n`)
  console.log(`genesis: ${Object.keys(top).length} storage entries; council of ${consortium.council.length}, ${consortium.validators.length} validators, ${consortium.treasury.length} treasury keys -> ${outPath}`)
} finally {
  await destroyWorker()
}
