// The small markdown subset of comments, parsed into pieces the app renders as text
// (never as HTML): **bold**, *italic*, http(s) links, line breaks.

export type Piece =
  | { kind: 'text'; text: string }
  | { kind: 'bold'; text: string }
  | { kind: 'italic'; text: string }
  | { kind: 'link'; text: string }
  | { kind: 'break' }

const PATTERN = /(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*)|(https?:\/\/[^\s<>"]+)|(\n)/g

export function pieces(body: string): Piece[] {
  const out: Piece[] = []
  let last = 0
  for (const m of body.matchAll(PATTERN)) {
    const at = m.index ?? 0
    if (at > last) out.push({ kind: 'text', text: body.slice(last, at) })
    if (m[1]) out.push({ kind: 'bold', text: m[1].slice(2, -2) })
    else if (m[2]) out.push({ kind: 'italic', text: m[2].slice(1, -1) })
    else if (m[3]) out.push({ kind: 'link', text: m[3] })
    else out.push({ kind: 'break' })
    last = at + m[0].length
  }
  if (last < body.length) out.push({ kind: 'text', text: body.slice(last) })
  return out
}
