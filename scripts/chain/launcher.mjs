// Custodia's local chain: the consortium runtime (chain/runtime) executed by chopsticks from a
// raw genesis, one block per transaction, JSON-RPC over WebSocket and HTTP
// POST on 127.0.0.1 only. Started and stopped by scripts/chain-start.sh / chain-stop.sh.
//
// Usage: node scripts/chain/launcher.mjs --genesis <genesis.json> --port <N>
// Logs go to stdout (chopsticks' logger; LOG_LEVEL=debug|trace for more). Stops on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import {
  allHandlers,
  BuildBlockMode,
  defaultLogger,
  destroyWorker,
  GenesisProvider,
  emptyTaskHandler,
  getAuraSlotDuration,
  ResponseError,
  runTask,
  setup,
} from '@acala-network/chopsticks-core'
import { createServer } from '@acala-network/chopsticks/server'
import { hexToU8a, u8aToHex } from '@polkadot/util'
import { xxhashAsU8a } from '@polkadot/util-crypto'

const HOST = '127.0.0.1'
const logger = defaultLogger.child({ name: 'custodia-chain' })

/**
 * chopsticks' genesis provider stands for the "remote" chain below the local blocks, and it
 * implements no `childstate_*` method: any read of a child trie missing from the local blocks
 * (every contract's storage lives in one) failed with "childstate_getStorage not implemented".
 * At genesis there are no child tries at all, so these reads answer empty.
 */
class ContractsGenesisProvider extends GenesisProvider {
  #genesis

  constructor(genesis) {
    super(genesis)
    this.#genesis = genesis
    const send = this.send // an instance property in GenesisProvider, not a prototype method
    this.send = async (method, params, isCacheable) => {
      switch (method) {
        case 'childstate_getStorage':
        case 'childstate_getStorageHash':
        case 'childstate_getStorageSize':
          return null
        case 'childstate_getKeys':
        case 'childstate_getKeysPaged':
          return []
        case 'childstate_getStorageEntries': // [child, keys, at?]
          return params[1].map(() => null)
        default:
          return send(method, params, isCacheable)
      }
    }
  }

  clone = () => new ContractsGenesisProvider(this.#genesis)
}

const { values: args } = parseArgs({
  options: { genesis: { type: 'string' }, port: { type: 'string' } },
})
const port = Number(args.port)
if (!args.genesis || !Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: launcher.mjs --genesis <genesis.json> --port <N>')
  process.exit(2)
}

/**
 * The runtime's Aura slot duration, told to chopsticks. chopsticks asks the runtime itself
 * (`AuraApi_slot_duration`) with unresolved host functions refused, which fails for this
 * runtime (node authorization imports `ext_offchain_set_authorized_nodes`, which the executor
 * lacks and the call never reaches), and then assumes 12 s: every block's timestamp would be two
 * slots ahead of its Aura slot and the runtime would refuse it. Its answer is memoized per
 * Wasm, so we ask the runtime ourselves (allowing the unresolved import) and seed that memo.
 */
const seedSlotDuration = async (wasm) => {
  const answer = await runTask(
    { wasm, calls: [['AuraApi_slot_duration', []]], mockSignatureHost: false, allowUnresolvedImports: true, runtimeLogLevel: 0 },
    emptyTaskHandler,
  )
  if ('Error' in answer) throw new Error(`AuraApi_slot_duration failed: ${answer.Error}`)
  const bytes = hexToU8a(answer.Call.result)
  const slot = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  getAuraSlotDuration.cache.set(wasm, Promise.resolve(Number(slot)))
  return slot
}

/**
 * The chain starts now, on an Aura slot boundary: `Timestamp::Now` at genesis is the start of
 * the current slot. (Left unset, chopsticks reads the clock twice for the first block, once for
 * its slot and once for its timestamp, and Aura refuses the block if a slot boundary falls in
 * between.) Blocks then advance one slot each.
 */
const startingNow = async (genesis) => {
  const slot = await seedSlotDuration(genesis.genesis.raw.top['0x3a636f6465'])
  const now = (BigInt(Date.now()) / slot) * slot
  const key = u8aToHex(new Uint8Array([...xxhashAsU8a('Timestamp', 128), ...xxhashAsU8a('Now', 128)]))
  const value = new Uint8Array(8)
  new DataView(value.buffer).setBigUint64(0, now, true)
  genesis.genesis.raw.top[key] = u8aToHex(value)
  return genesis
}

const chain = await setup({
  genesis: new ContractsGenesisProvider(await startingNow(JSON.parse(readFileSync(args.genesis, 'utf8')))),
  buildBlockMode: BuildBlockMode.Instant, // a block as soon as a transaction arrives
  mockSignatureHost: false, // real signature checks
  // The executor lacks `ext_offchain_set_authorized_nodes`, which only node authorization's
  // offchain worker calls (a node's job: chopsticks runs no offchain workers, and no peers).
  allowUnresolvedImports: true,
  // Without a database, blocks older than this many are dropped (hash-by-number lookups of
  // them would fail): keep a test run's worth.
  maxMemoryBlockCount: 100_000,
})

const context = { chain }
const handler = async ({ method, params }, subscriptionManager) => {
  const handle = allHandlers[method]
  if (!handle) throw new ResponseError(-32601, `Method not found: ${method}`)
  return handle(context, params, subscriptionManager)
}
// chopsticks' server: WebSocket and HTTP POST on one port. If the port is taken it quietly tries
// the next ones; we want exactly the one asked for.
const server = await createServer(handler, port, HOST)
if (server.port !== port) {
  logger.error(`port ${port} on ${HOST} is in use`)
  await server.close()
  await chain.close()
  await destroyWorker()
  process.exit(1)
}
logger.info(`${await chain.api.getSystemChain()} at block #${chain.head.number}: ws://${server.addr} (HTTP POST too)`)

let stopping = false
const stop = async (signal) => {
  if (stopping) return
  stopping = true
  logger.info(`${signal}: shutting down`)
  setTimeout(() => process.exit(1), 5_000).unref() // never hang on the way out
  await server.close()
  await chain.close()
  await destroyWorker()
  process.exit(0)
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
