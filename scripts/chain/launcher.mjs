// Custodia's local chain: the substrate-contracts-node 0.42 runtime (pallet-contracts) executed
// by chopsticks from a raw genesis, one block per transaction, JSON-RPC over WebSocket and HTTP
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
  ResponseError,
  setup,
} from '@acala-network/chopsticks-core'
import { createServer } from '@acala-network/chopsticks/server'

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

const chain = await setup({
  genesis: new ContractsGenesisProvider(JSON.parse(readFileSync(args.genesis, 'utf8'))),
  buildBlockMode: BuildBlockMode.Instant, // a block as soon as a transaction arrives
  mockSignatureHost: false, // real signature checks
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
