// What the browser tests share: starting a real `samen serve --demo` (or another process
// that says where it listens), launching Debian's Chromium, logging a person in, and
// checking a page with axe-core. Not a test file itself (node --test runs `*.test.mjs`).
//
//   SAMEN_BIN (default: target/debug/samen) · CHROMIUM (default: /usr/bin/chromium)

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

/** The repository's root. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
/** The Samen binary under test. */
export const bin = process.env.SAMEN_BIN ?? join(root, 'target/debug/samen')
/** Where screenshots go. */
export const shots = join(root, 'target/screenshots')
/** The demo's signal at De Linde. */
export const LINDE_SIGNAL = '6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0001'

/**
 * Starts a process and waits for the stdout line that says where it listens (`pattern`'s
 * first group); `url` rejects when it exits or says nothing within 15 s.
 */
export function started(command, args, pattern, name) {
  const proc = spawn(command, args, { env: { ...process.env, SAMEN_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] })
  const url = new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 15000)
    proc.stdout.setEncoding('utf8')
    proc.stdout.on('data', (chunk) => {
      const m = chunk.match(pattern)
      if (m) {
        clearTimeout(timer)
        resolveUrl(m[1])
      }
    })
    proc.on('exit', (code) => reject(new Error(`${name} exited with ${code}`)))
  })
  return { proc, url }
}

/** Starts `samen serve --demo` with extra flags on a fresh data directory; `stop()` ends it and removes the directory. */
export async function startSamen(args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'samen-e2e-'))
  const { proc, url } = started(bin, ['serve', '--demo', '--addr', '127.0.0.1:0', '--data', dir, ...args],
    /Samen luistert op (http:\/\/[^\s/]+)/, 'samen')
  return {
    proc,
    url: await url,
    dir,
    stop() {
      proc.kill('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Debian's Chromium, headless, without anything that talks to the internet by itself. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

/** Logs `email` in on `page` at `base` with the demo password, straight to `next` when given. */
export async function logInOn(page, base, email, next) {
  await page.goto(next ? `${base}/login?next=${encodeURIComponent(next)}` : `${base}/login`)
  await page.fill('#email', email)
  await page.fill('#password', 'demo')
  await page.click('button[type=submit]')
  await page.waitForURL((url) => !url.pathname.startsWith('/login'))
}

/**
 * A browser of its own (a context) with `email` logged in at `base`, landed where the app
 * sends them (or `next`). Uncaught page errors are logged and kept in `pageErrors`.
 * `bypassCSP` lets axe-core be injected.
 */
export async function logIn(browser, base, email, { pageErrors, next, bypassCSP = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'nl-BE', bypassCSP })
  const page = await context.newPage()
  page.on('pageerror', (e) => {
    pageErrors?.push(`${email}: ${e.message}`)
    console.error(`[${email}] page error:`, e.message, e.stack)
  })
  await logInOn(page, base, email, next)
  return page
}

/** A section's text without the others' caret labels. */
export const textOf = (page, section) =>
  page.evaluate((name) => {
    const el = document.querySelector(`[data-section=${name}]`)?.cloneNode(true)
    el?.querySelectorAll('.collaboration-carets__caret').forEach((c) => c.remove())
    return el?.textContent ?? ''
  }, section)

/** Runs axe-core on the page and fails on any serious or critical violation. */
export async function accessible(page, where) {
  await page.addScriptTag({ content: readFileSync(join(root, 'web/node_modules/axe-core/axe.min.js'), 'utf8') })
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }))
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`)
  assert.deepEqual(bad, [], `${where}: serious or critical accessibility violations`)
}
