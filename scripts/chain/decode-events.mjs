// Decodes every Custodia contract event on a running chain with the ecosystem's own decoder,
// @polkadot/api-contract's `Abi`, fed the ink! 5 metadata of the release bundles: a check that
// what the contracts emit is what their metadata declares, as any polkadot-js based indexer or
// wallet reads it.
//
// Walks blocks 1..head (the head when it starts), takes every `contracts.ContractEmitted` event,
// and looks its first topic up among the bundles' event signature topics; an event with no
// topics is the bundles' one anonymous event without indexed fields (`AccessLogged`), as
// `Abi.decodeEvent` itself finds it. A known one must
// decode (`abi.decodeEvent`), with a value for every field the metadata declares, the values
// re-encoding to exactly the event's data (nothing left over or missing), and the other topics
// equal to the `#[ink(topic)]` fields' values (ink! 5: the SCALE encoding, zero-padded to 32
// bytes, or its blake2-256 when longer). Events with an unknown first topic (other contracts)
// are counted and ignored.
//
// With --cargo-contract <repository root>, the first event of each type is also decoded by
// `cargo contract decode event` (cargo-contract 5, run in the emitting bundle's contract
// directory over the metadata its build left in target/contracts/<bundle>), which must name
// the event and every field. cargo-contract needs a signature topic, so it cannot decode the
// anonymous `AccessLogged`: that one is reported, not failed.
//
// Usage: node scripts/chain/decode-events.mjs <ws-url> <bundles-dir> [--require-all] [--cargo-contract <root>]
//   Prints a table: event type, how many were seen, a sample of decoded fields.
//   Exit 1 if a Custodia event fails to decode or to check; with --require-all, also if an
//   event type of the bundles was never seen (naming them). Exit 2 on bad usage.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ApiPromise, WsProvider } from '@polkadot/api'
import { Abi } from '@polkadot/api-contract'
import { compactAddLength, u8aConcat, u8aEq, u8aToHex } from '@polkadot/util'
import { blake2AsU8a } from '@polkadot/util-crypto'

const BUNDLES = ['directory', 'records', 'consents', 'access_log']
const PARALLEL = 16 // blocks fetched at a time

const args = process.argv.slice(2)
const requireAll = args.includes('--require-all')
const cargoAt = args.indexOf('--cargo-contract')
const cargoRoot = cargoAt >= 0 ? args[cargoAt + 1] : undefined
const positional = args.filter((a, i) => a !== '--require-all' && (cargoAt < 0 || (i !== cargoAt && i !== cargoAt + 1)))
const [url, dir, ...rest] = positional
if (!url || !dir || rest.length || (cargoAt >= 0 && !cargoRoot)) {
  console.error('usage: decode-events.mjs <ws-url> <bundles-dir> [--require-all] [--cargo-contract <root>]')
  process.exit(2)
}

// Signature topic -> { name, abi, event }. ink! 5 metadata lists every `#[ink::event]` linked
// into the contract, so the four bundles share most event types (custodia_types defines them
// all); an event type is named after its defining module: custodia_types::records::X -> records.X.
// Anonymous events (no signature topic) are kept by their number of topics: ink! 5 metadata
// cannot tell two anonymous events with as many topics apart, so there must be one of each.
const known = new Map()
const anonymous = new Map() // number of topics -> { name, abi, event }
for (const bundle of BUNDLES) {
  const abi = new Abi(readFileSync(join(dir, `${bundle}.contract`), 'utf8'))
  for (const event of abi.events) {
    const [module, label] = event.identifier.split('::').slice(-2)
    const kind = { name: `${module}.${label}`, abi, event, bundle }
    if (!event.signatureTopic) {
      const topics = event.args.filter((a) => a.indexed).length
      const other = anonymous.get(topics)
      if (other && other.name !== kind.name) {
        console.error(`two anonymous events with ${topics} topics (${other.name}, ${kind.name}): undecodable`)
        process.exit(1)
      }
      anonymous.set(topics, kind)
    } else if (!known.has(event.signatureTopic)) {
      known.set(event.signatureTopic, kind)
    }
  }
}

// ink! 5's topic of an `#[ink(topic)]` field: its encoding if it fits 32 bytes, else its hash.
const topicOf = (encoded) => {
  if (encoded.length > 32) return blake2AsU8a(encoded, 256)
  const topic = new Uint8Array(32)
  topic.set(encoded)
  return topic
}

// Checks one ContractEmitted record whose first topic is `kind`'s; returns the decoded args.
const check = (record, { abi, event }) => {
  const data = record.event.data[1] // Bytes: the event's SCALE encoding, no length prefix
  const decoded = abi.decodeEvent(record) // by record.topics[0] for ink! 5, else the anonymous one
  if (decoded.event.identifier !== event.identifier) throw new Error(`decoded as ${decoded.event.identifier}`)
  const declared = event.args.map((a) => a.name)
  if (decoded.args.length !== declared.length || decoded.args.some((v) => v == null)) {
    throw new Error(`${decoded.args.length} values for ${declared.length} fields (${declared.join(', ')})`)
  }
  const reencoded = u8aConcat(...decoded.args.map((v) => v.toU8a()))
  if (!u8aEq(reencoded, data)) {
    throw new Error(`fields re-encode differently (${reencoded.length} bytes, the event's ${data.length})`)
  }
  const indexed = event.args.flatMap((a, i) => (a.indexed ? [[a.name, topicOf(decoded.args[i].toU8a())]] : []))
  const first = event.signatureTopic ? 1 : 0 // an anonymous event has no signature topic
  if (record.topics.length !== first + indexed.length) {
    throw new Error(`${record.topics.length} topics for ${indexed.length} indexed fields`)
  }
  indexed.forEach(([name, topic], i) => {
    if (!u8aEq(record.topics[i + first], topic)) throw new Error(`topic ${i + first} does not match field ${name}`)
  })
  return Object.fromEntries(declared.map((name, i) => [name, decoded.args[i].toJSON()]))
}

// A short rendering of decoded fields: long hex cut to 0x1234…cdef, the whole to ~110 chars.
const short = (fields) => {
  const text = JSON.stringify(fields, (_, v) =>
    typeof v === 'string' && /^0x[0-9a-f]{16,}$/i.test(v) ? `${v.slice(0, 6)}…${v.slice(-4)}` : v)
  return text.length > 110 ? `${text.slice(0, 109)}…` : text
}

const api = await ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true, throwOnConnect: true })
const seen = new Map() // name -> { count, sample }
const failures = []
let emitted = 0
let foreign = 0
let head
try {
  head = (await api.rpc.chain.getHeader()).number.toNumber()
  for (let from = 1; from <= head; from += PARALLEL) {
    const numbers = Array.from({ length: Math.min(PARALLEL, head - from + 1) }, (_, i) => from + i)
    const blocks = await Promise.all(numbers.map(async (n) => {
      const hash = await api.rpc.chain.getBlockHash(n)
      return [n, await api.query.system.events.at(hash)]
    }))
    for (const [n, records] of blocks) {
      records.forEach((record, i) => {
        if (!api.events.contracts.ContractEmitted.is(record.event)) return
        emitted++
        const kind = record.topics.length ? known.get(record.topics[0].toHex()) : anonymous.get(0)
        if (!kind) {
          foreign++
          return
        }
        const entry = seen.get(kind.name) ?? { count: 0, sample: '' }
        entry.count++
        seen.set(kind.name, entry)
        try {
          const fields = check(record, kind)
          if (!entry.sample) {
            entry.sample = short(fields)
            entry.first = { kind, topic: record.topics[0]?.toHex(), data: record.event.data[1].toU8a(true), at: `#${n} event ${i}` }
          }
        } catch (error) {
          failures.push(`#${n} event ${i} ${kind.name} from ${record.event.data[0]}: ${error.message}` +
            ` (data ${u8aToHex(record.event.data[1])})`)
        }
      })
    }
  }
} finally {
  await api.disconnect()
}

const names = [...new Set([...known.values(), ...anonymous.values()].map((k) => k.name))].sort()
const width = Math.max(...names.map((n) => n.length))
console.log(`blocks 1..${head}: ${emitted} ContractEmitted, ${emitted - foreign} Custodia, ${foreign} other (ignored)`)
console.log(`${'event type'.padEnd(width)}  ${'count'.padStart(5)}  sample`)
for (const name of names) {
  const { count, sample } = seen.get(name) ?? { count: 0, sample: '-' }
  console.log(`${name.padEnd(width)}  ${String(count).padStart(5)}  ${sample}`)
}
const unseen = names.filter((n) => !seen.has(n))
console.log(`${names.length - unseen.length} of ${names.length} event types seen`)

// The same events through cargo-contract's decoder: the name and every field, by name.
if (cargoRoot) {
  const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
  let decoded = 0
  const anonymousTypes = []
  for (const [name, { first }] of seen) {
    if (!first) continue
    const { kind, topic, data, at } = first
    if (!kind.event.signatureTopic) {
      anonymousTypes.push(name)
      continue
    }
    try {
      const out = execFileSync('cargo', ['contract', 'decode', 'event', '-s', topic, '-d', u8aToHex(compactAddLength(data))], {
        cwd: join(cargoRoot, 'contracts', kind.bundle),
        env: { ...process.env, CARGO_TARGET_DIR: join(cargoRoot, 'target', 'contracts', kind.bundle) },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const label = kind.event.identifier.split('::').pop()
      const missing = kind.event.args.map((a) => snake(a.name)).filter((field) => !out.includes(`${field}: `))
      if (!out.includes(`Decoded data: ${label} {`) || missing.length) {
        throw new Error(`cargo contract printed ${JSON.stringify(out.slice(0, 200))} (missing ${missing.join(', ') || 'the name'})`)
      }
      decoded++
    } catch (error) {
      failures.push(`${at} ${name} by cargo contract: ${(error.stderr || error.message).toString().split('\n')[0]}`)
    }
  }
  console.log(`cargo contract decoded ${decoded} event type(s) with their fields; not decodable by it (no signature topic): ${anonymousTypes.join(', ') || 'none'}`)
}
for (const failure of failures.slice(0, 20)) console.error(`FAILED: ${failure}`)
if (failures.length) console.error(`${failures.length} Custodia event(s) failed to decode or check (first 20 shown)`)
if (requireAll && unseen.length) console.error(`never seen (--require-all): ${unseen.join(', ')}`)
process.exitCode = failures.length || (requireAll && unseen.length) ? 1 : 0 // not exit(): let stderr drain
