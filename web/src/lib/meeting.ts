// The meeting document (schoolbeeldoverleg) as the app writes it, and meeting mode's
// shared state. The roots and who writes each are fixed by the server
// (crdt/src/meeting.rs): a change to a root that is not the writer's is refused.

import * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { Institution, PartnerRole } from './api'
import { t } from './i18n.svelte'

/** The points of the leidraad, in the order the meeting walks them. */
export const POINTS = [
  'priorities',
  'trajectories',
  'work_plan',
  'registrations',
  'time_frame',
  'actions',
  'second_moment',
  'report',
] as const
export type Point = (typeof POINTS)[number]

export const isPoint = (value: unknown): value is Point => typeof value === 'string' && (POINTS as readonly string[]).includes(value)

/** A partner as the document's root names spell it: `school`, `clb` or `lsc.<number>`. */
export type PartnerKey = string

export const partnerKey = (role: PartnerRole): PartnerKey => (role.partner === 'lsc' ? `lsc.${role.lsc}` : role.partner)

/** The partners at a meeting: the school, the CLB and each LSC. */
export function partnerKeys(lscs: Institution[]): PartnerKey[] {
  return ['school', 'clb', ...lscs.map((l) => `lsc.${l.number}`)]
}

/** A partner key in words: "School", "CLB", or the LSC's name. */
export function partnerName(key: PartnerKey, lscs: { number: string; name: string }[]): string {
  if (key === 'school' || key === 'clb') return t(`meeting.partner.${key}`)
  return lscs.find((l) => `lsc.${l.number}` === key)?.name ?? t('meeting.partner.lsc')
}

/** Priority ids: 1–16 characters of a-z and 0-9, as the server's rule demands. */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return Array.from(bytes, (b) => (b % 36).toString(36)).join('')
}

export const priorities = (doc: Y.Doc) => doc.getArray<string>('priorities')
export const priorityTitle = (doc: Y.Doc, id: string) => doc.getText(`p.${id}.title`)

/** An action item: what, whose (a partner key or `user:<id>`), by when, done. */
export interface Action {
  id: string
  what: string
  owner: string
  due: string
  done: boolean
}

export const actions = (doc: Y.Doc) => doc.getArray<Y.Map<unknown>>('actions')

export function readAction(map: Y.Map<unknown>): Action {
  const text = (key: string) => {
    const v = map.get(key)
    return typeof v === 'string' ? v : ''
  }
  return { id: text('id'), what: text('what'), owner: text('owner'), due: text('due'), done: map.get('done') === true }
}

export function addAction(doc: Y.Doc, action: Omit<Action, 'id' | 'done'>) {
  const map = new Y.Map<unknown>()
  doc.transact(() => {
    map.set('id', newId())
    map.set('what', action.what)
    map.set('owner', action.owner)
    map.set('due', action.due)
    map.set('done', false)
    actions(doc).push([map])
  })
}

/** What each participant shares about meeting mode (awareness field `meeting`). */
export interface MeetingPresence {
  /** The agenda point they look at. */
  point: Point
  /** Whether they chair the meeting (everyone following sees their point). */
  chair: boolean
  /** When they took the chair (ms): the latest claim wins. */
  since: number
}

/** Someone present: their awareness client, the server-stamped user and meeting state. */
export interface Present {
  client: number
  user: { id: string; name: string; color: string }
  meeting: MeetingPresence | null
}

/**
 * Everyone present, from the awareness states. The server stamps each state's `user` with
 * who really sent it; our own state is as we set it, so `self` stands for us.
 */
export function present(awareness: Awareness, self: Present['user']): Present[] {
  const list: Present[] = []
  awareness.getStates().forEach((state, client) => {
    const user = client === awareness.clientID ? self : (state.user as Present['user'] | undefined)
    if (!user?.id) return
    const m = state.meeting as MeetingPresence | undefined
    const meeting = m && isPoint(m.point) ? { point: m.point, chair: m.chair === true, since: Number(m.since) || 0 } : null
    list.push({ client, user, meeting })
  })
  return list
}

/** The chair: of everyone who claims it, the latest claim (ties: the higher client ID). */
export function chairOf(people: Present[]): Present | null {
  let chair: Present | null = null
  for (const p of people) {
    if (!p.meeting?.chair) continue
    if (!chair || p.meeting.since > chair.meeting!.since || (p.meeting.since === chair.meeting!.since && p.client > chair.client)) {
      chair = p
    }
  }
  return chair
}
