// Comment anchors: a passage of a section as two Yjs relative positions, so the passage
// follows everyone's edits. Also the editor plugin that highlights anchored passages.

import * as Y from 'yjs'
import { Extension, type Editor } from '@tiptap/core'
import { Plugin, PluginKey, type EditorState } from '@tiptap/pm/state'
import { Decoration, DecorationSet } from '@tiptap/pm/view'
import { absolutePositionToRelativePosition, relativePositionToAbsolutePosition, ySyncPluginKey } from '@tiptap/y-tiptap'
import { fromBase64, toBase64 } from './base64'

export interface Anchor {
  section: string
  start: string
  end: string
  quote: string
}

/** The Yjs binding of an editor's state, once the sync plugin has bound it. */
export function sync(state: EditorState) {
  const ys = ySyncPluginKey.getState(state)
  return ys?.binding && ys.type && ys.doc ? ys : null
}

/** The current selection of an editor as an anchor, or null when nothing is selected. */
export function selectionAnchor(editor: Editor, section: string): Anchor | null {
  const { from, to } = editor.state.selection
  const ys = sync(editor.state)
  if (from === to || !ys) return null
  const start = absolutePositionToRelativePosition(from, ys.type, ys.binding.mapping)
  const end = absolutePositionToRelativePosition(to, ys.type, ys.binding.mapping)
  return {
    section,
    start: toBase64(Y.encodeRelativePosition(start)),
    end: toBase64(Y.encodeRelativePosition(end)),
    quote: editor.state.doc.textBetween(from, to, ' ').slice(0, 500),
  }
}

/** Where an anchor's passage is now, or null when its text was deleted. */
export function resolveAnchor(state: EditorState, anchor: Anchor): { from: number; to: number } | null {
  const ys = sync(state)
  if (!ys) return null
  try {
    const from = relativePositionToAbsolutePosition(ys.doc, ys.type, Y.decodeRelativePosition(fromBase64(anchor.start)), ys.binding.mapping)
    const to = relativePositionToAbsolutePosition(ys.doc, ys.type, Y.decodeRelativePosition(fromBase64(anchor.end)), ys.binding.mapping)
    if (from == null || to == null || to <= from) return null
    return { from, to }
  } catch {
    return null
  }
}

export interface Highlight {
  id: string
  anchor: Anchor
}

const key = new PluginKey<{ highlights: Highlight[]; set: DecorationSet }>('commentHighlights')

function decorate(state: EditorState, highlights: Highlight[]): DecorationSet {
  const decorations = highlights.flatMap((h) => {
    const range = resolveAnchor(state, h.anchor)
    return range ? [Decoration.inline(range.from, range.to, { class: 'comment-anchor', 'data-thread': h.id })] : []
  })
  return DecorationSet.create(state.doc, decorations)
}

/** Highlights the passages of open threads; `setHighlights` replaces them. */
export const CommentHighlights = Extension.create({
  name: 'commentHighlights',
  addProseMirrorPlugins() {
    return [
      new Plugin({
        key,
        state: {
          init: () => ({ highlights: [] as Highlight[], set: DecorationSet.empty }),
          apply(tr, value, _old, state) {
            const highlights: Highlight[] | undefined = tr.getMeta(key)
            if (highlights) return { highlights, set: decorate(state, highlights) }
            if (!tr.docChanged) return value
            // Remote changes arrive from Yjs, which is then up to date: resolve again. Local
            // edits reach Yjs only after this step, so their effect is mapped instead.
            if (tr.getMeta(ySyncPluginKey)) return { highlights: value.highlights, set: decorate(state, value.highlights) }
            return { highlights: value.highlights, set: value.set.map(tr.mapping, tr.doc) }
          },
        },
        props: { decorations: (state) => key.getState(state)?.set },
      }),
    ]
  },
})

export function setHighlights(editor: Editor, highlights: Highlight[]) {
  editor.view.dispatch(editor.state.tr.setMeta(key, highlights))
}
