// The name guard in the editor: the server finds suspected names of pupils and teachers in
// a document (issue 19) and sends them to its editors (message 101, see sync.ts); this
// underlines them in the sections where they stand. The browser ships no detector: it only
// looks for the phrases the server named, so an edited name loses its underline at once
// and a new one gets it when the server has read the edit (a second or so).

import type * as Y from 'yjs'
import { Extension } from '@tiptap/core'
import type { Node as PMNode } from '@tiptap/pm/model'
import { Plugin, PluginKey, type EditorState } from '@tiptap/pm/state'
import { Decoration, DecorationSet } from '@tiptap/pm/view'

/** One suspected name, as the server sends it. */
export interface NameFinding {
  /** Where it stands: a section or part (`summary`, `work_plan`), `p.<id>.title`, `actions.<id>`. */
  place: string
  /** The name as written. */
  name: string
  /** The words a replacement takes the place of (`juf Roos` for `Roos`). */
  phrase: string
  kind: string
  replacements: string[]
}

/** An underlined name in an editor: the finding and the range of its phrase. */
export interface Marked {
  finding: NameFinding
  from: number
  to: number
}

interface Entry {
  id: string
  findings: NameFinding[]
  listeners: Set<() => void>
}

const docs = new WeakMap<Y.Doc, Entry>()

function entry(doc: Y.Doc): Entry {
  let e = docs.get(doc)
  if (!e) {
    e = { id: '', findings: [], listeners: new Set() }
    docs.set(doc, e)
  }
  return e
}

/** Keeps what the server found in document `id` (called by sync.ts on message 101). */
export function setFindings(doc: Y.Doc, id: string, findings: NameFinding[]) {
  const e = entry(doc)
  e.id = id
  e.findings = findings
  for (const listener of e.listeners) listener()
}

/** The document's id and its findings, as last received. */
export function findingsOf(doc: Y.Doc): { id: string; findings: NameFinding[] } {
  const e = entry(doc)
  return { id: e.id, findings: e.findings }
}

/** Calls `listener` whenever the document's findings change; returns the way to stop. */
export function onFindings(doc: Y.Doc, listener: () => void): () => void {
  const e = entry(doc)
  e.listeners.add(listener)
  return () => e.listeners.delete(listener)
}

/** Parses message 101's JSON text; anything else is no findings. */
export function parseFindings(json: string): NameFinding[] {
  try {
    const value = JSON.parse(json)
    const list: unknown[] = Array.isArray(value?.findings) ? value.findings : []
    return list.filter(
      (f): f is NameFinding =>
        typeof f === 'object' && f !== null &&
        typeof (f as NameFinding).place === 'string' &&
        typeof (f as NameFinding).name === 'string' &&
        typeof (f as NameFinding).phrase === 'string' &&
        Array.isArray((f as NameFinding).replacements),
    )
  } catch {
    return []
  }
}

const key = new PluginKey<DecorationSet>('nameGuard')
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Every place `phrase` stands as whole words (not `an` in `vandaag`). */
export function phraseRegex(...phrases: string[]): RegExp {
  return new RegExp(`(?<![\\p{L}\\p{N}])(${phrases.map(escape).join('|')})(?![\\p{L}\\p{N}])`, 'gu')
}

/** The underlines for `findings` in the editor's document. */
function decorate(doc: PMNode, findings: NameFinding[], hint: string): DecorationSet {
  if (findings.length === 0) return DecorationSet.empty
  const decorations: Decoration[] = []
  doc.descendants((node, pos) => {
    if (!node.isTextblock) return true
    // One character per leaf (a hard break), so that offsets are positions.
    const text = node.textBetween(0, node.content.size, undefined, '\ufffc')
    for (const finding of findings) {
      const phrase = phraseRegex(finding.phrase)
      const inPhrase = Math.max(0, finding.phrase.indexOf(finding.name))
      for (const match of text.matchAll(phrase)) {
        const from = pos + 1 + match.index
        const to = from + finding.phrase.length
        const nameFrom = from + inPhrase
        decorations.push(
          Decoration.inline(
            nameFrom,
            nameFrom + finding.name.length,
            { class: 'name-finding', 'data-name-finding': finding.name, title: hint },
            { finding, from, to } satisfies Marked,
          ),
        )
      }
    }
    return false
  })
  return DecorationSet.create(doc, decorations)
}

/** The underlined name at position `pos`, if there is one. */
export function markedAt(state: EditorState, pos: number): Marked | null {
  const set = key.getState(state)
  const found = set?.find(pos, pos)[0]
  return found ? (found.spec as Marked) : null
}

/** Underlines the findings of `doc` that stand in `field`. */
export const NameGuard = Extension.create<{ doc: Y.Doc | null; field: string; hint: string }>({
  name: 'nameGuard',
  addOptions() {
    return { doc: null, field: '', hint: '' }
  },
  addProseMirrorPlugins() {
    const { doc, field, hint } = this.options
    const mine = () => (doc ? findingsOf(doc).findings.filter((f) => f.place === field) : [])
    return [
      new Plugin<DecorationSet>({
        key,
        state: {
          init: (_, state) => decorate(state.doc, mine(), hint),
          apply: (tr, set, _old, state) =>
            tr.docChanged || tr.getMeta(key) ? decorate(state.doc, mine(), hint) : set,
        },
        props: {
          decorations: (state) => key.getState(state),
        },
        view: (view) => {
          const stop = doc
            ? onFindings(doc, () => {
                // Not in the middle of another dispatch: the message arrives on its own.
                queueMicrotask(() => {
                  if (!view.isDestroyed) view.dispatch(view.state.tr.setMeta(key, true))
                })
              })
            : () => {}
          return { destroy: stop }
        },
      }),
    ]
  },
})

/** `text` in pieces, the suspected `names` among them marked (for text outside an editor). */
export function pieces(text: string, names: string[]): { text: string; name: boolean }[] {
  const wanted = [...new Set(names)].filter((n) => n.length > 0)
  if (wanted.length === 0) return [{ text, name: false }]
  const any = phraseRegex(...wanted)
  const out: { text: string; name: boolean }[] = []
  let at = 0
  for (const match of text.matchAll(any)) {
    if (match.index > at) out.push({ text: text.slice(at, match.index), name: false })
    out.push({ text: match[0], name: true })
    at = match.index + match[0].length
  }
  if (at < text.length) out.push({ text: text.slice(at), name: false })
  return out
}

/** A document's findings that stand in `place`, kept up to date for a component's life. */
export function watchFindings(doc: Y.Doc, place: string, set: (findings: NameFinding[]) => void): () => void {
  const update = () => set(findingsOf(doc).findings.filter((f) => f.place === place))
  update()
  return onFindings(doc, update)
}

/** Where the finding's phrase stands in `text` (its first occurrence), or null. */
export function phraseIn(text: string, finding: NameFinding): { from: number; to: number } | null {
  const match = phraseRegex(finding.phrase).exec(text)
  return match ? { from: match.index, to: match.index + match[0].length } : null
}

/** `text` with `words` in the place of the finding's phrase, spaces tidied. */
export function replacePhrase(text: string, finding: NameFinding, words: string): string {
  const at = phraseIn(text, finding)
  if (!at) return text
  return (text.slice(0, at.from) + words + text.slice(at.to)).replace(/ {2,}/g, ' ')
}
