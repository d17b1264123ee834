// The sections of a registration, in the order the page shows them (DESIGN.md: the root
// names are wire format), and the ones only the CLB writes.

export const SECTIONS = ['summary', 'understanding', 'advice', 'goals', 'agreements', 'status_note'] as const
export type Section = (typeof SECTIONS)[number]

export const CLB_ONLY: ReadonlySet<string> = new Set(['summary', 'advice'])
