// Documents (issue 17): the files kept with a school or a registration, uploaded with a
// progress bar (XMLHttpRequest reports upload progress; fetch does not).

export interface FileVersion {
  id: string
  name: string
  mime: string
  size: number
  sha256: string
  note: string
  uploaded_by: { id: string; name: string }
  uploaded_at: number
  /** Suspected names of pupils or teachers in its name (the name guard). */
  names: { name: string }[]
  /** What the name guard found in its text (read by the server after the upload). */
  text_check: { status: 'pending' | 'checked' | 'unreadable' | 'none'; names: number; checked_at: number | null }
}

export interface StoredFile {
  id: string
  place: 'school' | 'registration' | 'agreement'
  place_id: string
  created_by: { id: string; name: string }
  created_at: number
  versions: FileVersion[]
  /** Who deleted it, when and why (restorable for 30 days). */
  deleted: { by: { id: string; name: string }; at: number; reason: string } | null
}

/** What a failed upload was, for a message in the user's words. */
export type UploadFailure = 'too_large' | 'unsupported_type' | 'network' | 'other'

/** Sends `file` to `url` (`?name=` added) and reports progress; the stored file, or why not. */
export function sendFile(
  url: string,
  file: File,
  onProgress: (loaded: number, total: number) => void,
): Promise<StoredFile> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    const sep = url.includes('?') ? '&' : '?'
    xhr.open('POST', `${url}${sep}name=${encodeURIComponent(file.name)}`)
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream')
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size)
    xhr.onload = () => {
      let body: { error?: { code?: string; message?: string } } & Partial<StoredFile> = {}
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        // An answer without JSON is an error below.
      }
      if (xhr.status === 201) resolve(body as StoredFile)
      else {
        const code = body.error?.code
        const failure: UploadFailure = code === 'too_large' || xhr.status === 413 ? 'too_large'
          : code === 'unsupported_type' || xhr.status === 415 ? 'unsupported_type'
          : 'other'
        reject(Object.assign(new Error(body.error?.message ?? `HTTP ${xhr.status}`), { failure }))
      }
    }
    xhr.onerror = () => reject(Object.assign(new Error('network'), { failure: 'network' as UploadFailure }))
    xhr.send(file)
  })
}

/** `1,2 MB`, `850 kB`, `12 bytes`, in the user's language's number format. */
export function formatSize(bytes: number, locale: string): string {
  const n = (x: number) => new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(x)
  if (bytes >= 1024 * 1024) return `${n(bytes / (1024 * 1024))} MB`
  if (bytes >= 1024) return `${n(bytes / 1024)} kB`
  return `${bytes} bytes`
}

/** A short label for a file's type, for the list. */
export function typeLabel(mime: string): string {
  const labels: Record<string, string> = {
    'application/pdf': 'PDF',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'Word',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'Excel',
    'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'PowerPoint',
    'application/vnd.oasis.opendocument.text': 'ODT',
    'application/vnd.oasis.opendocument.spreadsheet': 'ODS',
    'image/png': 'PNG',
    'image/jpeg': 'JPEG',
    'text/plain': 'TXT',
    'text/csv': 'CSV',
  }
  return labels[mime] ?? mime
}

/** The file types the picker offers (the server decides by content). */
export const ACCEPT = '.pdf,.docx,.xlsx,.pptx,.odt,.ods,.png,.jpg,.jpeg,.txt,.csv'

/** The types the browser shows without help from elsewhere: images natively, PDF with pdf.js. */
const PREVIEWABLE = new Set(['application/pdf', 'image/png', 'image/jpeg'])

/** Whether a version of this type can be previewed in the page. */
export function canPreview(mime: string): boolean {
  return PREVIEWABLE.has(mime)
}

/** Where a version's bytes are downloaded (and previewed) from. */
export function contentUrl(fileId: string, versionId?: string): string {
  const base = `/api/files/${encodeURIComponent(fileId)}/content`
  return versionId ? `${base}?version=${encodeURIComponent(versionId)}` : base
}
