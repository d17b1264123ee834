import { t } from './i18n.svelte'

/** What changed in a registration since the user's last visit (`since_visit` of a list). */
export interface SinceVisit {
  /** When they last left it; null: never opened, and new since they started using Samen. */
  seen_at: number | null
  /** Someone else changed its text since. */
  text: boolean
  /** Named versions made since. */
  versions: number
  /** Documents others added since. */
  documents: number
}

/** The badge's words: "Nieuw", or what changed ("tekst gewijzigd, 1 nieuwe versie"). */
export function sinceText(since: SinceVisit): string {
  if (since.seen_at === null) return t('since.new')
  const parts: string[] = []
  if (since.text) parts.push(t('since.text'))
  if (since.versions) parts.push(since.versions === 1 ? t('since.versionsOne') : t('since.versionsMany', { n: since.versions }))
  if (since.documents)
    parts.push(since.documents === 1 ? t('since.documentsOne') : t('since.documentsMany', { n: since.documents }))
  return parts.join(', ')
}
