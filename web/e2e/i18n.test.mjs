// Every string the app shows exists in both languages, and an English string equal to its
// Dutch one is a string nobody translated, unless it is a domain word both languages keep
// (the glossary) or a word they share. Read from the source, so no browser is needed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

const source = readFileSync(new URL('../src/lib/i18n.svelte.ts', import.meta.url), 'utf8')

/** The `'key': 'text',` entries between `start` and the first `end` after it. */
function dictionary(start, end) {
  const from = source.indexOf(start)
  assert.ok(from >= 0, `${start} is in i18n.svelte.ts`)
  const body = source.slice(from, source.indexOf(end, from))
  const entries = new Map()
  for (const line of body.split('\n').slice(1)) {
    if (!line.trim()) continue
    const match = line.match(/^\s*'([^']+)': (['"])(.*)\2,$/)
    assert.ok(match, `one entry per line, quoted: ${line}`)
    assert.ok(!entries.has(match[1]), `${match[1]} is given once`)
    entries.set(match[1], match[3])
  }
  return entries
}

const nl = dictionary('const nl = {', '\n} as const')
const en = dictionary('const en: Record<Key, string> = {', '\n}\n')

// Domain words keep their Dutch names in English (DESIGN.md's glossary), and some words
// are the same in both languages.
const SAME_IN_BOTH = new Set([
  'app.name', 'nav.menu', 'search.status', 'search.school', 'search.part.file', 'agreements.title', 'meetings.title', 'meeting.partner.school',
  'meeting.partner.clb', 'meeting.partner.lsc', 'meeting.eyebrow', 'meeting.agenda',
  'meeting.actions.byPartner', 'meeting.actions.partners', 'summary.open', 'clbSummary.school',
  'clbSummary.perSchool', 'report.pdf', 'overview.title', 'overview.filter.status', 'overview.count',
  'kind.signal', 'kind.consultation', 'kinds.signal', 'status.open', 'section.summary.signal',
  'toolbar.link', 'comments.open', 'names.replace', 'names.kind.registration', 'names.kind.meeting',
  'names.kind.agreements', 'names.kind.file',
])

test('every string is in Dutch and in English, and English strings are translated', () => {
  assert.ok(nl.size > 400, `the dictionaries were read (${nl.size} Dutch strings)`)
  assert.deepEqual([...en.keys()].filter((key) => !nl.has(key)), [], 'English keys without Dutch')
  assert.deepEqual([...nl.keys()].filter((key) => !en.has(key)), [], 'Dutch keys without English')
  const untranslated = [...nl].filter(([key, text]) => en.get(key) === text && !SAME_IN_BOTH.has(key))
  assert.deepEqual(untranslated, [], 'English strings left in Dutch (translate them, or add the key to SAME_IN_BOTH with a reason)')
  const stale = [...SAME_IN_BOTH].filter((key) => !nl.has(key) || en.get(key) !== nl.get(key))
  assert.deepEqual(stale, [], 'SAME_IN_BOTH lists keys that are gone or translated now')
})

test('placeholders are the same in both languages', () => {
  const names = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
  const different = [...nl].filter(([key, text]) => names(text).join() !== names(en.get(key) ?? '').join())
  assert.deepEqual(different.map(([key]) => key), [], 'keys whose {placeholders} differ between Dutch and English')
})
