// "Auteurs tonen": colours the text of a section by who wrote it, as Etherpad does, while
// editing goes on. The writer of every character is the Yjs client that inserted it; the
// server binds each client ID to a user (GET /api/registrations/{id}/authors), never the
// browser's own claim.
//
// The plugin walks the section's Y.XmlFragment in step with the ProseMirror document: an
// XmlElement is a node of the same name, an XmlText a run of text nodes. Local edits reach
// Yjs only in the sync plugin's view update, so after a local edit the colours are mapped
// at once and computed again right after; remote edits arrive with Yjs already up to date.

import * as Y from 'yjs'
import { Extension, type Editor } from '@tiptap/core'
import type { Node as PMNode } from '@tiptap/pm/model'
import { Plugin, PluginKey, type EditorState } from '@tiptap/pm/state'
import { Decoration, DecorationSet } from '@tiptap/pm/view'
import { ySyncPluginKey } from '@tiptap/y-tiptap'
import { sync } from './anchors'

export interface Writer { id: string; name: string; color: string }

/** Who wrote with which client ID, and what to do about client IDs nobody knows yet. */
export interface Authorship {
  clients: ReadonlyMap<number, Writer>
  /** Called with client IDs that have text in the section but are not in `clients`. */
  missing: (clients: number[]) => void
}

interface Run { client: number; from: number; to: number }
interface PluginState { authorship: Authorship | null; set: DecorationSet; stale: boolean }

const key = new PluginKey<PluginState>('authorship')

/** The visible characters of one XmlText, by inserting client, from PM position `start`. */
function textRuns(text: Y.XmlText, start: number, out: Run[]) {
  let pos = start
  for (let item = text._start; item; item = item.right) {
    if (item.deleted || !item.countable) continue
    const last = out.at(-1)
    if (last && last.client === item.id.client && last.to === pos) last.to += item.length
    else out.push({ client: item.id.client, from: pos, to: pos + item.length })
    pos += item.length
  }
}

/**
 * Walks a Yjs parent and its ProseMirror node together; false when they do not match. Text
 * is matched by length, not node by node: ProseMirror joins adjacent text with the same
 * marks into one node, even when it comes from two XmlTexts.
 */
function walk(parent: Y.XmlFragment | Y.XmlElement, node: PMNode, contentStart: number, out: Run[]): boolean {
  let index = 0
  let pos = contentStart
  let text = 0 // characters of the text nodes taken so far that no XmlText has claimed yet
  for (const child of parent.toArray()) {
    if (child instanceof Y.XmlText) {
      while (text < child.length && index < node.childCount && node.child(index).isText) text += node.child(index++).nodeSize
      if (text < child.length) return false
      textRuns(child, pos, out)
      pos += child.length
      text -= child.length
    } else if (child instanceof Y.XmlElement) {
      const pm = index < node.childCount ? node.child(index++) : null
      if (text !== 0 || !pm || pm.isText || pm.type.name !== child.nodeName) return false
      if (!pm.isLeaf && !walk(child, pm, pos + 1, out)) return false
      pos += pm.nodeSize
    } else {
      return false
    }
  }
  return text === 0 && index === node.childCount
}

/** The decorations for the current text, or null when Yjs and the editor differ for now. */
function decorate(state: EditorState, authorship: Authorship): DecorationSet | null {
  const ys = sync(state)
  if (!ys) return null
  const runs: Run[] = []
  if (!walk(ys.type, state.doc, 0, runs)) return null
  const missing = new Set<number>()
  const decorations: Decoration[] = []
  let open: { writer: Writer; from: number; to: number } | null = null
  const close = () => {
    if (open) decorations.push(Decoration.inline(open.from, open.to, {
      class: 'authored',
      style: `background-color: ${open.writer.color}33; box-shadow: inset 0 -2px 0 ${open.writer.color}`,
      title: open.writer.name,
      'data-author': open.writer.id,
    }))
    open = null
  }
  for (const run of runs) {
    const writer = authorship.clients.get(run.client)
    if (!writer) {
      missing.add(run.client)
      close()
    } else if (open && open.writer.id === writer.id && open.to === run.from) {
      open.to = run.to
    } else {
      close()
      open = { writer, from: run.from, to: run.to }
    }
  }
  close()
  if (missing.size) authorship.missing([...missing])
  return DecorationSet.create(state.doc, decorations)
}

function compute(state: EditorState, authorship: Authorship | null, previous: DecorationSet): PluginState {
  if (!authorship) return { authorship, set: DecorationSet.empty, stale: false }
  const set = decorate(state, authorship)
  return set ? { authorship, set, stale: false } : { authorship, set: previous, stale: true }
}

/** Colours text by author once `setAuthorship` gives it the writers; off by default. */
export const AuthorshipColors = Extension.create({
  name: 'authorshipColors',
  addProseMirrorPlugins() {
    return [
      new Plugin<PluginState>({
        key,
        state: {
          init: () => ({ authorship: null, set: DecorationSet.empty, stale: false }),
          apply(tr, value, _old, state) {
            const meta: { authorship: Authorship | null } | 'recompute' | undefined = tr.getMeta(key)
            if (meta === 'recompute') return compute(state, value.authorship, value.set)
            if (meta) return compute(state, meta.authorship, DecorationSet.empty)
            if (!value.authorship || !tr.docChanged) return value
            if (tr.getMeta(ySyncPluginKey)) return compute(state, value.authorship, value.set.map(tr.mapping, tr.doc))
            return { ...value, set: value.set.map(tr.mapping, tr.doc), stale: true }
          },
        },
        props: { decorations: (state) => key.getState(state)?.set },
        view: () => {
          let scheduled = false
          return {
            // The sync plugin comes first (higher priority), so Yjs holds the local edit
            // by now; recompute right after this update rather than inside it. Only a
            // changed document schedules, so a walk that fails cannot loop.
            update(view, previous) {
              if (scheduled || view.state.doc === previous.doc || !key.getState(view.state)?.stale) return
              scheduled = true
              queueMicrotask(() => {
                scheduled = false
                if (!view.isDestroyed && key.getState(view.state)?.stale) view.dispatch(view.state.tr.setMeta(key, 'recompute'))
              })
            },
          }
        },
      }),
    ]
  },
})

/** Turns the colours on (with these writers) or off (`null`). */
export function setAuthorship(editor: Editor, authorship: Authorship | null) {
  if (!editor.isDestroyed) editor.view.dispatch(editor.state.tr.setMeta(key, { authorship }))
}
