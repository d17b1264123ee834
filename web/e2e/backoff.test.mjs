// The reconnect wait (src/lib/backoff.ts) on its own: full jitter below a doubling,
// capped ceiling. The TypeScript module is compiled in memory with the project's own
// `typescript`, so no browser or build is needed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import ts from 'typescript'

const source = readFileSync(new URL('../src/lib/backoff.ts', import.meta.url), 'utf8')
const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
const { reconnectDelay, RECONNECT_BASE_MS, RECONNECT_CAP_MS } = await import(`data:text/javascript,${encodeURIComponent(outputText)}`)

test('the ceiling doubles from the base with every attempt, up to the cap', () => {
  const ceiling = (attempt) => reconnectDelay(attempt, () => 0.999999) + 1
  assert.equal(RECONNECT_BASE_MS, 2000)
  assert.equal(RECONNECT_CAP_MS, 20000)
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50, 5000].map(ceiling), [2000, 4000, 8000, 16000, 20000, 20000, 20000, 20000])
  // A negative attempt (never passed, but harmless) counts as the first.
  assert.equal(ceiling(-1), 2000)
})

test('the wait is anywhere from zero to the ceiling: the random number decides', () => {
  assert.equal(reconnectDelay(0, () => 0), 0)
  assert.equal(reconnectDelay(0, () => 0.5), 1000)
  assert.equal(reconnectDelay(3, () => 0.25), 4000)
  assert.equal(reconnectDelay(9, () => 0.5), 10000)
})

test('2,000 editors dropped at once come back spread out, not in the same second', () => {
  const first = Array.from({ length: 2000 }, () => reconnectDelay(0))
  assert.ok(first.every((ms) => Number.isInteger(ms) && ms >= 0 && ms < RECONNECT_BASE_MS))
  // Per 100 ms slot of the first two seconds about 100 reconnects, never anything like all of them.
  const slots = new Array(20).fill(0)
  for (const ms of first) slots[Math.floor(ms / 100)] += 1
  assert.ok(Math.max(...slots) < 200, `the busiest 100 ms holds ${Math.max(...slots)} of 2,000`)
  assert.ok(Math.min(...slots) > 30, `the quietest 100 ms holds ${Math.min(...slots)} of 2,000`)
})
