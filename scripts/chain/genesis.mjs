// Writes the local chain's raw genesis (the `genesis.raw.top` chopsticks reads) from the runtime
// Wasm itself: its GenesisBuilder API, run in chopsticks-core's executor, builds the storage of
// the runtime's default genesis config patched like substrate-contracts-node's `--dev` spec
// (Alice..Ferdie and their //stash accounts endowed with 2^60 each, sudo Alice); `:code` is the
// Wasm. No native node involved.
//
// Usage: node scripts/chain/genesis.mjs <runtime.wasm> <genesis.json>
import { readFileSync, writeFileSync } from 'node:fs'
import { destroyWorker, runTask } from '@acala-network/chopsticks-core'
import { Keyring } from '@polkadot/keyring'
import { compactAddLength, compactStripLength, hexToU8a, stringToU8a, u8aToHex, u8aToString } from '@polkadot/util'
import { cryptoWaitReady } from '@polkadot/util-crypto'

const [wasmPath, outPath] = process.argv.slice(2)
if (!wasmPath || !outPath) {
  console.error('usage: genesis.mjs <runtime.wasm> <genesis.json>')
  process.exit(2)
}

const DEV_NAMES = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie']
const ENDOWMENT = 2 ** 60 // what contracts-node's dev spec gives; exact as a JS number
const CODE_KEY = u8aToHex(stringToU8a(':code'))
const CHILD_PREFIX = u8aToHex(stringToU8a(':child_storage:'))

const wasm = u8aToHex(readFileSync(wasmPath))

// Runs one runtime API call on empty storage; returns the SCALE result and the storage written.
const call = async (method, arg) => {
  const storage = new Map()
  const response = await runTask(
    { wasm, calls: [[method, [arg]]], mockSignatureHost: false, allowUnresolvedImports: false, runtimeLogLevel: 0 },
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
  const endowed = DEV_NAMES.flatMap((name) => [`//${name}`, `//${name}//stash`]).map(account)

  // GenesisBuilder_get_preset(None) -> Option<Vec<u8>>: the default RuntimeGenesisConfig as JSON.
  const preset = hexToU8a((await call('GenesisBuilder_get_preset', '0x00')).result)
  if (preset[0] !== 1) throw new Error('the runtime has no default genesis preset')
  const config = JSON.parse(u8aToString(compactStripLength(preset.subarray(1))[1]))

  config.balances.balances = endowed.map((who) => [who, ENDOWMENT])
  config.sudo.key = account('//Alice')

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
    name: 'Custodia local chain (chopsticks)',
    id: 'Development',
    properties: { ss58Format: 42, tokenDecimals: 12, tokenSymbol: 'UNIT' },
    genesis: { raw: { top } },
  }
  writeFileSync(outPath, `${JSON.stringify(genesis, null, 1)}\n`)
  console.log(`genesis: ${Object.keys(top).length} storage entries, ${endowed.length} endowed accounts -> ${outPath}`)
} finally {
  await destroyWorker()
}
