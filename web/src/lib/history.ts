// Versions of a registration ("Geschiedenis"): the server's snapshots, a version as a Yjs
// document of its own, and the diff between two versions (or a version and now).

import * as Y from 'yjs'
import { api } from './api'
import { fromBase64 } from './base64'
import { formatDate, t } from './i18n.svelte'

export interface Person { id: string; name: string }
export interface Author { id: string; name: string; color: string }
export interface Counts { added: number; removed: number }

export interface Snapshot {
  id: string
  kind: 'auto' | 'named' | 'restore'
  name: string | null
  created_by: Person | null
  created_at: number
  restored_from: string | null
  /** What changed since the version before: only the sections that changed. */
  summary: { sections: Record<string, Counts>; authors: Author[] }
}

export interface SnapshotDetail {
  snapshot: Snapshot
  sections: Record<string, string>
  /** The whole document as it was then: a base64 Yjs v1 update. */
  update: string
}

export type Change = 'same' | 'added' | 'removed'
export interface Span { text: string; change: Change; author: string | null; removed_by: string | null }
export interface Line { change: Change; spans: Span[] }
export interface Diff {
  from: Snapshot
  to: Snapshot | null
  authors: Record<string, { name: string; color: string }>
  sections: Record<string, Line[]>
  stats: Record<string, Counts>
}

const base = (registration: string) => `/api/registrations/${registration}`

export const listSnapshots = (registration: string) =>
  api<{ snapshots: Snapshot[] }>('GET', `${base(registration)}/snapshots`).then((r) => r.snapshots)

export const saveSnapshot = (registration: string, name: string) =>
  api<Snapshot>('POST', `${base(registration)}/snapshots`, { name })

export const loadSnapshot = (registration: string, snapshot: string) =>
  api<SnapshotDetail>('GET', `${base(registration)}/snapshots/${snapshot}`)

export const restoreSnapshot = (registration: string, snapshot: string) =>
  api<{ snapshot: Snapshot }>('POST', `${base(registration)}/snapshots/${snapshot}/restore`).then((r) => r.snapshot)

/** What changed in the document at `path` (`/api/registrations/{id}`, `/api/meetings/{id}`). */
export function loadDiff(path: string, from: string, to: string | null) {
  const query = new URLSearchParams({ from })
  if (to) query.set('to', to)
  return api<Diff>('GET', `${path}/diff?${query}`)
}

/** The list with `snapshot` added or replaced, newest first. */
export function upsertSnapshot(list: Snapshot[], snapshot: Snapshot): Snapshot[] {
  return [snapshot, ...list.filter((s) => s.id !== snapshot.id)].sort((a, b) => b.created_at - a.created_at)
}

/**
 * A version as people call it: its name, "Automatische versie", or "Teruggezet naar «…»"
 * naming the version it restored (looked up in `list` when it is there).
 */
export function versionTitle(snapshot: Snapshot, list: Snapshot[] = []): string {
  if (snapshot.kind === 'restore') {
    const source = list.find((s) => s.id === snapshot.restored_from)
    if (source && !source.name) return t('history.restoreDate', { date: formatDate(source.created_at) })
    const name = source ? versionTitle(source, list) : snapshot.name
    return name ? t('history.restoreName', { name }) : t('history.restoreUnknown')
  }
  return snapshot.name ?? t('history.autoName')
}

/**
 * Where "Wat is er veranderd sinds het vorige overleg?" starts: the newest named version,
 * else the oldest version, else nothing (there is nothing to compare with).
 */
export function lastMeeting(list: Snapshot[]): Snapshot | null {
  return list.find((s) => s.kind === 'named') ?? list.at(-1) ?? null
}

/** A version as a document of its own, to show in read-only editors. */
export function versionDoc(update: string): Y.Doc {
  const doc = new Y.Doc({ gc: false })
  Y.applyUpdate(doc, fromBase64(update))
  return doc
}
