import { ApiPromise, WsProvider } from '@polkadot/api'
import { Keyring } from '@polkadot/keyring'
import { readFileSync } from 'node:fs'
import { u8aConcat, u8aToHex, hexToU8a } from '@polkadot/util'
const api = await ApiPromise.create({ provider: new WsProvider(process.argv[2]), noInitWarn: true })
const alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice')
const code = readFileSync('target/bundles/directory.wasm')
const data = u8aConcat(hexToU8a('0x9bae9d5e'), api.createType('(Vec<AccountId>, u32)', [[alice.address], 1]).toU8a())
const t0 = Date.now()
const addr = await new Promise((res, rej) => api.tx.contracts.instantiateWithCode(0, { refTime: 50_000_000_000n, proofSize: 2_000_000n }, null, u8aToHex(code), u8aToHex(data), '0x')
  .signAndSend(alice, ({ status, events, dispatchError }) => {
    console.log('status', status.type)
    if (dispatchError) return rej(new Error(dispatchError.isModule ? JSON.stringify(api.registry.findMetaError(dispatchError.asModule)) : dispatchError.toString()))
    if (status.isFinalized) { const ev = events.find(({ event }) => api.events.contracts.Instantiated.is(event)); res(ev.event.data.contract.toString()) }
  }).catch(rej))
console.log('instantiated at', addr, 'in', Date.now() - t0, 'ms')
const dry = async (input) => { const r = await api.call.contractsApi.call(alice.address, addr, 0, null, null, input); return r.result.toJSON() }
console.log('admins()', JSON.stringify(await dry('0xc265d5b2')))
console.log('lookup(alice)', JSON.stringify(await dry(u8aToHex(u8aConcat(hexToU8a('0xb1cf247e'), api.createType('AccountId', alice.address).toU8a())))))
await api.disconnect()
