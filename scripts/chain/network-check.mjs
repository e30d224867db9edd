// What scripts/network.sh asks of a running network, over each validator's JSON-RPC (HTTP):
//   heads URL...            one line per node: its best and finalized block numbers and its peers
//   load URL N FILE         signs N remarks from Alice, each waited for until finalized, and
//                           appends "block-number block-hash extrinsic-hash" per remark to FILE
//   verify FILE URL...      every remark in FILE is still in the block it was finalized in, on
//                           every node (no finalized transaction lost or moved)
import { appendFileSync, readFileSync } from 'node:fs'
import { ApiPromise, HttpProvider } from '@polkadot/api'
import { Keyring } from '@polkadot/keyring'
import { hexToU8a } from '@polkadot/util'
import { blake2AsHex, cryptoWaitReady } from '@polkadot/util-crypto'

const rpc = async (url, method, params = []) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const answer = await response.json()
  if (answer.error) throw new Error(`${method}: ${JSON.stringify(answer.error)}`)
  return answer.result
}

const heads = async (url) => {
  try {
    const best = parseInt((await rpc(url, 'chain_getHeader')).number, 16)
    const finalized = parseInt((await rpc(url, 'chain_getHeader', [await rpc(url, 'chain_getFinalizedHead')])).number, 16)
    const peers = (await rpc(url, 'system_health')).peers
    return { url, best, finalized, peers }
  } catch (e) {
    return { url, down: e.cause?.code ?? e.message }
  }
}

const [command, ...args] = process.argv.slice(2)
switch (command) {
  case 'heads': {
    for (const h of await Promise.all(args.map(heads))) {
      console.log(h.down ? `${h.url} down (${h.down})` : `${h.url} best ${h.best} finalized ${h.finalized} peers ${h.peers}`)
    }
    break
  }
  case 'load': {
    const [url, count, file] = args
    await cryptoWaitReady()
    const api = await ApiPromise.create({ provider: new HttpProvider(url), noInitWarn: true })
    const alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice')
    try {
      for (let i = 0; i < Number(count); i++) {
        const tx = api.tx.system.remark(`custodia network ${Date.now()} ${i}`)
        await tx.signAsync(alice, { nonce: -1 })
        const hash = tx.hash.toHex()
        await rpc(url, 'author_submitExtrinsic', [tx.toHex()])
        // Follow finalized heads (HTTP: poll) until one holds it.
        for (let seen = null, tries = 0; ; tries++) {
          if (tries > 200) throw new Error(`remark ${hash} not finalized after ${tries} polls`)
          const head = await rpc(url, 'chain_getFinalizedHead')
          if (head !== seen) {
            seen = head
            const found = await findBack(url, head, hash, 20)
            if (found) {
              appendFileSync(file, `${found.number} ${found.block} ${hash}\n`)
              break
            }
          }
          await new Promise((r) => setTimeout(r, 1000))
        }
      }
    } finally {
      await api.disconnect()
    }
    break
  }
  case 'verify': {
    const [file, ...urls] = args
    const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean)
    for (const url of urls) {
      for (const line of lines) {
        const [number, block, tx] = line.split(' ')
        const canonical = await rpc(url, 'chain_getBlockHash', [Number(number)])
        if (canonical !== block) throw new Error(`${url}: block #${number} is ${canonical}, not ${block} (remark ${tx})`)
        const { block: body } = await rpc(url, 'chain_getBlock', [block])
        if (!body.extrinsics.some((x) => blake(x) === tx)) throw new Error(`${url}: #${number} lacks remark ${tx}`)
      }
      console.log(`${url}: all ${lines.length} finalized remarks in place`)
    }
    break
  }
  default:
    console.error('usage: network-check.mjs heads URL... | load URL N FILE | verify FILE URL...')
    process.exit(2)
}

/** The block at or below `head` (at most `depth` back) whose extrinsics include `tx`. */
async function findBack(url, head, tx, depth) {
  let hash = head
  for (let i = 0; i < depth && hash; i++) {
    const { block } = await rpc(url, 'chain_getBlock', [hash])
    if (block.extrinsics.some((x) => blake(x) === tx)) return { number: parseInt(block.header.number, 16), block: hash }
    if (parseInt(block.header.number, 16) === 0) return null
    hash = block.header.parentHash
  }
  return null
}

/** An extrinsic's hash: BLAKE2-256 of its encoding. */
function blake(extrinsicHex) {
  return blake2AsHex(hexToU8a(extrinsicHex), 256)
}
