// Previews of PDF documents (issue 17) with pdf.js. Only FilePreview imports this module,
// and only with a dynamic import() when a PDF preview opens: pdf.js (some 400 kB) stays
// out of the app's main bundle for everyone who never previews a PDF.

import { getDocument, GlobalWorkerOptions, type PDFDocumentProxy } from 'pdfjs-dist'

export type { PDFDocumentProxy }

// The worker is a file Vite emits into our own assets: the app's CSP (`script-src 'self'`,
// no blob: scripts) allows it, where a worker from a CDN or built from a blob would not be.
GlobalWorkerOptions.workerSrc = new URL('pdfjs-dist/build/pdf.worker.min.mjs', import.meta.url).href

/** A canvas larger than this many pixels fails in some browsers and costs a lot of memory. */
const MAX_CANVAS_PIXELS = 16_777_216

/**
 * Opens the PDF at `url`. The bytes are fetched here, with the session cookie, and handed to
 * pdf.js as data: then pdf.js asks no URL of its own (its range requests would bypass the
 * `fetch` the app controls), and `signal` stops a download the user no longer waits for.
 */
export async function openPdf(url: string, signal: AbortSignal): Promise<PDFDocumentProxy> {
  const response = await fetch(url, { credentials: 'same-origin', signal })
  if (!response.ok) throw new Error(`HTTP ${response.status}`)
  const data = await response.arrayBuffer()
  // No `isEvalSupported: false`: pdf.js 6 dropped the option along with its eval-compiled
  // PostScript functions, so nothing here needs `unsafe-eval`.
  return getDocument({ data }).promise
}

/** A page's height divided by its width (rotation included), for space kept before it is drawn. */
export async function pageRatio(doc: PDFDocumentProxy, n: number): Promise<number> {
  const viewport = (await doc.getPage(n)).getViewport({ scale: 1 })
  return viewport.height / viewport.width
}

/**
 * Draws page `n` into `canvas` for a width of `cssWidth` CSS pixels, at the screen's pixel
 * density so that text stays sharp on a phone or a retina screen. The canvas is sized by CSS
 * (full width, height by its aspect ratio); this sets only its bitmap. Its ratio is returned.
 */
export async function drawPage(doc: PDFDocumentProxy, n: number, canvas: HTMLCanvasElement, cssWidth: number): Promise<number> {
  const page = await doc.getPage(n)
  const natural = page.getViewport({ scale: 1 })
  let scale = (cssWidth / natural.width) * (window.devicePixelRatio || 1)
  const pixels = natural.width * natural.height * scale * scale
  if (pixels > MAX_CANVAS_PIXELS) scale *= Math.sqrt(MAX_CANVAS_PIXELS / pixels)
  const viewport = page.getViewport({ scale })
  canvas.width = Math.floor(viewport.width)
  canvas.height = Math.floor(viewport.height)
  await page.render({ canvas, viewport }).promise
  // The page's parsed resources are not needed once it is a bitmap.
  page.cleanup()
  return natural.height / natural.width
}
