// Smoke test of a running local chain, independent of the Rust workspace (polkadot.js): the
// runtime is the consortium's (metadata versions, its pallets, no sudo), a transfer from the
// treasury key (Alice) is included and reported finalized, and one from a key that is not the
// treasury's (Bob) is refused by the transaction pool.
//
// Usage: node scripts/chain/check.mjs ws://127.0.0.1:PORT      (exit 0 when all is well)
import { ApiPromise, WsProvider } from '@polkadot/api'
import { Keyring } from '@polkadot/keyring'

const url = process.argv[2]
if (!url) {
  console.error('usage: check.mjs ws://127.0.0.1:PORT')
  process.exit(2)
}
const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`)
  console.log(`ok: ${what}`)
}

const api = await ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true, throwOnConnect: true })
try {
  // The raw runtime call first: what subxt asks before choosing a metadata version.
  const versions = api.createType('Vec<u32>', await api.rpc.state.call('Metadata_metadata_versions', '0x'))
  check(versions.toJSON().includes(15), `Metadata_metadata_versions = ${versions.toJSON()} (has V15)`)
  const version = api.runtimeVersion
  check(version.specName.toString() === 'custodia-consortium',
    `runtime ${version.specName} spec_version ${version.specVersion}`)
  const pallets = api.runtimeMetadata.asLatest.pallets.map((p) => p.name.toString())
  check(['Contracts', 'Council', 'Aura', 'Grandpa', 'NodeAuthorization'].every((p) => pallets.includes(p)) && !pallets.includes('Sudo'),
    `pallets: ${pallets.join(', ')}`)
  check((await api.rpc.system.chain()).toString() === 'custodia_local', 'system_chain = custodia_local')

  const keyring = new Keyring({ type: 'sr25519' })
  const alice = keyring.addFromUri('//Alice')
  const bob = keyring.addFromUri('//Bob')
  const amount = 1_000_000_000_000n
  const before = (await api.query.system.account(bob.address)).data.free.toBigInt()
  const statuses = []
  const started = Date.now()
  await new Promise((resolve, reject) => {
    api.tx.balances
      .transferKeepAlive(bob.address, amount)
      .signAndSend(alice, ({ status, dispatchError }) => {
        statuses.push(status.type)
        if (dispatchError) reject(new Error(`transfer failed: ${dispatchError.toString()}`))
        else if (status.isFinalized) resolve()
        else if (status.isInvalid || status.isDropped) reject(new Error(`transfer ${status.type}`))
      })
      .catch(reject)
  })
  const after = (await api.query.system.account(bob.address)).data.free.toBigInt()
  check(after - before === amount, `transfer Alice -> Bob finalized in ${Date.now() - started} ms (${statuses.join(' -> ')})`)
  const refused = await api.tx.balances.transferKeepAlive(alice.address, amount).signAndSend(bob).then(
    () => null,
    (e) => e.message,
  )
  check(refused?.includes('"invalid"') && refused?.includes('"custom":1'), `transfer Bob -> Alice refused: ${refused}`)
  console.log(`head: #${(await api.rpc.chain.getHeader()).number}`)
} finally {
  await api.disconnect()
}
