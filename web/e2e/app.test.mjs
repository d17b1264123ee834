// Browser tests: a real `samen serve --demo` and Debian's Chromium driven by playwright-core.
// Run by the README's test command (scripts/test); screenshots go to target/screenshots/.
//
//   SAMEN_BIN (default: target/debug/samen) · CHROMIUM (default: /usr/bin/chromium)

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LINDE_SIGNAL, accessible, bin, launchBrowser, logIn, shots, startSamen, textOf } from './support.mjs'

let server
let base
/** Uncaught errors of every page, for tests that assert there were none. */
const pageErrors = []
let browser
let data

/** Starts `samen serve --demo` on a fresh data directory with extra flags. */
const startServer = startSamen

before(async () => {
  mkdirSync(shots, { recursive: true })
  ;({ proc: server, url: base, dir: data } = await startServer())
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  server?.kill('SIGTERM')
  rmSync(data, { recursive: true, force: true })
})

const person = (email, at = base) => logIn(browser, at, email, { pageErrors })

const goals = (page) => page.locator('[data-section=goals]')
/**
 * Selects `text` in a section's editor, as a mouse drag would, and waits until the editor has
 * taken the selection: ProseMirror reads a DOM selection on the next `selectionchange`, and a
 * key pressed before that (or a peer's update redrawing the view) acts on the old one.
 */
const selectText = async (page, section, text) => {
  await page.evaluate(
    ([name, wanted]) => {
      const editor = document.querySelector(`[data-section=${name}]`)
      editor.focus()
      const walker = document.createTreeWalker(editor, NodeFilter.SHOW_TEXT)
      let node
      while ((node = walker.nextNode())) {
        const at = node.textContent.indexOf(wanted)
        if (at >= 0) {
          const range = document.createRange()
          range.setStart(node, at)
          range.setEnd(node, at + wanted.length)
          window.getSelection().removeAllRanges()
          window.getSelection().addRange(range)
          return
        }
      }
      throw new Error(`${wanted} not found in ${name}`)
    },
    [section, text],
  )
  await page.waitForFunction(
    ([name, wanted]) => {
      const state = document.querySelector(`[data-section=${name}]`)?.editor?.state
      return state && state.doc.textBetween(state.selection.from, state.selection.to) === wanted
    },
    [section, text],
    { timeout: 2000 },
  )
}
const saved = (page) => page.locator('[data-save-state=saved]').waitFor({ timeout: 5000 })

test('the login offers to stay logged in, off by default: only then does the cookie outlast the browser', async () => {
  for (const remember of [false, true]) {
    const context = await browser.newContext({ locale: 'nl-BE' })
    const page = await context.newPage()
    await page.goto(`${base}/login`)
    const box = page.getByLabel('Aangemeld blijven op dit toestel')
    assert.equal(await box.isChecked(), false)
    if (remember) await box.check()
    await page.fill('#email', 'clb@demo.test')
    await page.fill('#password', 'demo')
    await page.click('button[type=submit]')
    await page.waitForURL((url) => !url.pathname.startsWith('/login'))
    const cookie = (await context.cookies()).find((c) => c.name === 'samen_session')
    assert.ok(cookie, 'a session cookie')
    // -1: a browser-session cookie, gone when the browser closes.
    assert.equal(cookie.expires === -1, !remember)
    await context.close()
  }
})

test('a wrong password shows the error and keeps the user on the login page', async () => {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(`${base}/`)
  await page.waitForURL(/\/login/)
  // Empty fields are checked in the page: nothing is sent, and the field to fill gets the focus.
  const logins = []
  page.on('request', (r) => r.url().endsWith('/api/login') && logins.push(r))
  await page.click('button[type=submit]')
  await page.locator('#login-error', { hasText: 'Vul je e-mailadres in.' }).waitFor()
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'email')
  await page.fill('#email', 'clb@demo.test')
  await page.click('button[type=submit]')
  await page.locator('#login-error', { hasText: 'Vul je wachtwoord in.' }).waitFor()
  assert.equal(logins.length, 0, 'no login sent with an empty field')
  assert.equal(await page.title(), 'Aanmelden — Samen')
  await page.fill('#password', 'fout')
  await page.click('button[type=submit]')
  await assert.doesNotReject(page.locator('#login-error', { hasText: 'E-mailadres of wachtwoord is onjuist.' }).waitFor())
  assert.match(page.url(), /\/login/)
  await context.close()
})

test('CLB and school co-edit goals live, with named carets, and it is stored', async () => {
  const clb = await person('clb@demo.test')
  const school = await person('linde@demo.test')
  for (const page of [clb, school]) {
    await page.goto(`${base}/registraties/${LINDE_SIGNAL}`)
    await goals(page).waitFor()
    await saved(page)
  }
  // Both type at the same time, the CLB at the end of the goals text and the school at its
  // start. (Both at the end, one's keystrokes may land inside the other's sentence: the
  // second caret is placed after a letter the first one just typed, which is right for a
  // CRDT but made this test fail now and then.)
  const typeAt = async (page, key, text) => {
    await goals(page).click()
    await page.keyboard.press(key)
    await page.keyboard.type(text, { delay: 15 })
  }
  // While typing, the indicator stays calm: each keystroke is saved within milliseconds,
  // and "Bezig met opslaan…" would flicker on every one (it shows only when saving lasts).
  const flickers = []
  await clb.exposeFunction('sawSaving', () => flickers.push(Date.now()))
  await clb.evaluate(() => {
    const indicator = document.querySelector('.save')
    new MutationObserver(() => {
      if (indicator.textContent.includes('Bezig met opslaan')) window.sawSaving()
    }).observe(indicator, { subtree: true, characterData: true, childList: true })
  })
  await Promise.all([
    typeAt(clb, 'Control+End', ' CLB schrijft mee.'),
    typeAt(school, 'Control+Home', 'School vult aan. '),
  ])

  // Each sees the other's text and named caret within a second. When not, the failure says
  // whether the text came late (and how late) or never came.
  const sees = async (page, text) => {
    const has = (t) => document.querySelector('[data-section=goals]')?.textContent?.includes(t)
    const start = Date.now()
    try {
      await page.waitForFunction(has, text, { timeout: 1000 })
    } catch {
      const late = await page.waitForFunction(has, text, { timeout: 10000 }).then(() => true, () => false)
      const shown = await textOf(page, 'goals')
      throw new Error(late ? `"${text}" arrived after ${Date.now() - start} ms, not within 1 s` : `"${text}" never arrived; goals shows: ${shown}`)
    }
  }
  await Promise.all([sees(clb, 'School vult aan.'), sees(school, 'CLB schrijft mee.')])
  await clb.locator('.collaboration-carets__label', { hasText: 'Tom Peeters (De Linde)' }).waitFor({ timeout: 1000 })
  await school.locator('.collaboration-carets__label', { hasText: 'Sara Claes (CLB)' }).waitFor({ timeout: 1000 })
  assert.equal(await textOf(clb, 'goals'), await textOf(school, 'goals'), 'both see the same goals')

  // Presence: both avatars, each in its person's colour, in each window.
  for (const page of [clb, school]) {
    for (const name of ['Tom Peeters (De Linde)', 'Sara Claes (CLB)']) {
      const avatar = page.locator(`.reg-side [data-user="${name}"]`)
      await avatar.waitFor({ timeout: 2000 })
      const background = await avatar.evaluate((el) => getComputedStyle(el).backgroundColor)
      assert.notEqual(background, 'rgba(0, 0, 0, 0)', `${name} has a colour`)
    }
  }
  await saved(clb)
  await saved(school)
  assert.deepEqual(flickers, [], 'typing a sentence did not flash "Bezig met opslaan…"')
  await school.screenshot({ path: join(shots, 'registration-two-people.png'), fullPage: true })

  // The school may not write the CLB's advice: read-only, with the reason.
  const advice = school.locator('[data-section=advice]')
  assert.equal(await advice.getAttribute('contenteditable'), 'false')
  await school.locator('section:has([data-section=advice]) .lock').waitFor()
  const before = await advice.textContent()
  await advice.click()
  await school.keyboard.type('mag niet')
  assert.equal(await advice.textContent(), before)

  // A reload shows what was stored.
  await school.reload()
  await goals(school).waitFor()
  await school.waitForFunction(
    () => {
      const text = document.querySelector('[data-section=goals]')?.textContent ?? ''
      return text.includes('CLB schrijft mee.') && text.includes('School vult aan.')
    },
    null,
    { timeout: 5000 },
  )
  await clb.context().close()
  await school.context().close()
})

test('a registration the CLB creates appears in the school overview without a reload', async () => {
  const school = await person('linde@demo.test')
  await school.goto(`${base}/scholen/100001`)
  await school.locator('.registrations').first().waitFor()
  assert.equal(await school.locator('button', { hasText: 'Nieuwe registratie' }).count(), 0, 'schools do not start registrations')
  const clb = await person('clb@demo.test')
  await clb.goto(`${base}/scholen/100001`)
  await clb.locator('.avatars [data-user="Tom Peeters (De Linde)"]').waitFor({ timeout: 2000 })
  await clb.click('button:has-text("Nieuwe registratie")')
  await clb.fill('#new-title-input', 'Vragen over studiekeuze in het zesde leerjaar')
  await clb.selectOption('#new-theme', 'studiekeuze')
  await clb.click('form.new button[type=submit]')
  await clb.waitForURL(/\/registraties\//)
  await school
    .locator('.registration-link', { hasText: 'Vragen over studiekeuze in het zesde leerjaar' })
    .waitFor({ timeout: 2000 })
  await school.screenshot({ path: join(shots, 'overview.png'), fullPage: true })
  await clb.context().close()
  await school.context().close()
})

test('titles are shown as text, never as HTML', async () => {
  const clb = await person('clb@demo.test')
  await clb.goto(`${base}/scholen/100001`)
  await clb.click('button:has-text("Nieuwe registratie")')
  await clb.fill('#new-title-input', '<img src=x onerror="window.__pwned=1"> Test')
  await clb.click('form.new button[type=submit]')
  await clb.waitForURL(/\/registraties\//)
  await clb.locator('[data-testid=reg-title]').waitFor()
  assert.equal(await clb.locator('[data-testid=reg-title]').textContent(), '<img src=x onerror="window.__pwned=1"> Test')
  assert.equal(await clb.evaluate(() => window.__pwned), undefined)
  await clb.context().close()
})

test('unknown pages and registrations of other schools show a clear error', async () => {
  const anker = await person('anker@demo.test')
  await anker.goto(`${base}/registraties/${LINDE_SIGNAL}`)
  await anker.locator('h1', { hasText: 'Niet gevonden' }).waitFor()
  await anker.goto(`${base}/iets/anders`)
  await anker.locator('h1', { hasText: 'Niet gevonden' }).waitFor()
  await anker.context().close()
})

test('status changes by the CLB show live to every viewer', async () => {
  const school = await person('linde@demo.test')
  const clb = await person('clb@demo.test')
  const consultation = '6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0002'
  for (const page of [school, clb]) {
    await page.goto(`${base}/registraties/${consultation}`)
    await page.locator('[data-testid=reg-status]').waitFor()
  }
  assert.equal(await school.locator('button', { hasText: 'Afsluiten' }).count(), 0, 'only the CLB changes the status')
  // Closing asks first: saying no changes nothing.
  clb.once('dialog', (d) => d.dismiss())
  await clb.click('button:has-text("Afsluiten")')
  await clb.waitForTimeout(300)
  assert.equal(await clb.locator('[data-testid=reg-status]', { hasText: 'Open' }).count(), 1, 'not closed without a yes')
  clb.once('dialog', (d) => {
    assert.match(d.message(), /afsluiten/)
    d.accept()
  })
  await clb.click('button:has-text("Afsluiten")')
  await school.locator('[data-testid=reg-status]', { hasText: 'Afgesloten' }).waitFor({ timeout: 2000 })
  await school.locator('[data-closed-banner]').waitFor()
  assert.equal(await school.title(), 'Omgaan met faalangst bij toetsen in het vijfde leerjaar — Basisschool De Linde — Samen')
  // Closed means read-only, for the CLB too, until it is reopened.
  for (const page of [school, clb]) {
    await page.locator('[data-section=goals][contenteditable=false]').waitFor({ timeout: 2000 })
    await page.locator('.lock', { hasText: 'Afgesloten: alleen lezen.' }).first().waitFor()
  }
  await clb.click('button:has-text("Heropenen")')
  await school.locator('[data-testid=reg-status]', { hasText: 'Open' }).waitFor({ timeout: 2000 })
  assert.equal(await school.locator('[data-closed-banner]').count(), 0)
  // Writable again: the school's text is stored once more.
  await school.locator('[data-section=goals][contenteditable=true]').waitFor({ timeout: 2000 })
  await goals(school).click()
  await school.keyboard.press('Control+End')
  await school.keyboard.type(' Weer open.')
  await saved(school)
  await clb.context().close()
  await school.context().close()
})

test('an expired session sends the user to login and back to the page', async () => {
  const page = await person('linde@demo.test')
  await page.goto(`${base}/scholen/100001`)
  await page.locator('.registration-link').first().waitFor()
  await page.context().clearCookies()
  await page.locator('.registration-link', { hasText: 'Meer meldingen' }).click()
  await page.waitForURL(/\/login\?/)
  await page.locator('.notice', { hasText: 'Je sessie is verlopen' }).waitFor()
  await page.fill('#email', 'linde@demo.test')
  await page.fill('#password', 'demo')
  await page.click('button[type=submit]')
  await page.waitForURL(new RegExp(`/registraties/${LINDE_SIGNAL}$`))
  await page.locator('[data-section=goals]').waitFor()
  await page.context().close()
})

test('logging out in another tab closes the open dossier there, and that page asks to log in', async () => {
  const page = await person('linde@demo.test')
  await open(page, LINDE_SIGNAL)
  const other = await page.context().newPage()
  await other.goto(`${base}/scholen/100001`)
  await other.evaluate(() => fetch('/api/logout', { method: 'POST' }))
  // The server closes the dossier's connection at once (1008, access ended); the page
  // stops reconnecting, finds the session gone and sends the user to login.
  await page.waitForURL(/\/login\?/, { timeout: 10000 })
  await page.locator('.notice', { hasText: 'Je sessie is verlopen' }).waitFor()
  await page.context().close()
})

test('the app speaks English on request, and works at tablet width', async () => {
  const context = await browser.newContext({ viewport: { width: 820, height: 1100 } })
  const page = await context.newPage()
  await page.goto(`${base}/login`)
  await page.click('button:has-text("English")')
  await page.locator('h1', { hasText: 'Log in' }).waitFor()
  await page.fill('#email', 'linde@demo.test')
  await page.fill('#password', 'demo')
  await page.click('button[type=submit]')
  // Tom has one school: he lands in it, in English.
  await page.locator('#overview-title', { hasText: 'Basisschool De Linde' }).waitFor()
  await page.locator('.controls label', { hasText: 'Kind' }).waitFor()
  assert.equal(await page.title(), 'Basisschool De Linde — Samen')
  // The list of schools stays one click away.
  await page.click('nav a:has-text("Schools")')
  await page.locator('h1', { hasText: 'Choose a school' }).waitFor()
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth)
  assert.equal(overflow, false, 'no horizontal scrolling at tablet width')
  await context.close()
})

test('comment threads on a passage: live for everyone, replies, resolve, the anchor follows edits', async () => {
  const consultation = '6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0002'
  const school = await person('linde@demo.test')
  const clb = await person('clb@demo.test')
  for (const page of [school, clb]) {
    await page.goto(`${base}/registraties/${consultation}`)
    await goals(page).waitFor()
    await saved(page)
  }
  // The school writes a goal, then selects a passage of it and comments.
  await goals(school).click()
  await school.keyboard.press('Control+End')
  await school.keyboard.type('Alle leerlingen kennen de afspraken tegen de krokusvakantie.')
  await saved(school)
  await selectText(school, 'goals', 'krokusvakantie')
  await school.click('section:has([data-section=goals]) .comment-here')
  await school.locator('.new-comment .quote', { hasText: 'krokusvakantie' }).waitFor()
  await school.fill('#new-comment', 'Is dit doel **haalbaar** tegen de krokusvakantie?')
  await school.click('.new-comment button[type=submit]')

  // The CLB sees the thread and the highlighted passage, live.
  const thread = clb.locator('.thread', { hasText: 'Is dit doel haalbaar' })
  await thread.waitFor({ timeout: 1000 })
  assert.equal(await thread.locator('strong', { hasText: 'haalbaar' }).count(), 1, 'markdown bold, rendered as text')
  await clb.locator('[data-section=goals] .comment-anchor', { hasText: 'krokusvakantie' }).waitFor({ timeout: 1000 })

  // Text typed before the passage: the anchor follows it.
  await goals(clb).click()
  await clb.keyboard.press('Control+Home')
  await clb.keyboard.type('Doel: ')
  for (const page of [clb, school]) {
    await page.waitForFunction(() => document.querySelector('[data-section=goals]')?.textContent?.startsWith('Doel: '), null, { timeout: 2000 })
    assert.equal(await page.locator('[data-section=goals] .comment-anchor').textContent(), 'krokusvakantie')
  }

  // The CLB replies and resolves; the school sees both, live.
  await thread.locator('.reply input').fill('Ja, met twee tussenstappen.')
  await thread.locator('.reply button[type=submit]').click()
  await school.locator('.thread .comment-body', { hasText: 'Ja, met twee tussenstappen.' }).waitFor({ timeout: 1000 })
  await school.screenshot({ path: join(shots, 'registration-comments.png'), fullPage: true })
  await thread.locator('button', { hasText: 'Oplossen' }).click()
  await school.locator('[role=tab]', { hasText: 'Opgelost (1)' }).waitFor({ timeout: 1000 })
  assert.equal(await school.locator('.thread', { hasText: 'Is dit doel haalbaar' }).count(), 0, 'no longer among the open threads')
  await school.click('[role=tab]:has-text("Opgelost")')
  await school.locator('.thread .resolved-by', { hasText: 'Sara Claes (CLB)' }).waitFor()
  assert.equal(await school.locator('[data-section=goals] .comment-anchor').count(), 0, 'resolved threads are not highlighted')

  // Without a connection a comment is not sent: the page says so in Dutch and keeps the text.
  await school.context().setOffline(true)
  await school.fill('#new-comment', 'Nog een vraag voor het CLB.')
  await school.click('.new-comment button[type=submit]')
  await school.locator('.new-comment [role=alert]', { hasText: 'Geen verbinding met de server: er is niets verstuurd.' }).waitFor()
  assert.equal(await school.inputValue('#new-comment'), 'Nog een vraag voor het CLB.', 'the text stays for sending later')
  await school.context().setOffline(false)
  await clb.context().close()
  await school.context().close()
})

test('mentions reach the notifications, unread counts show on the overview, deleted passages are marked', async () => {
  const problem = '6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0001'
  const clb = await person('clb@demo.test')
  const school = await person('linde@demo.test')
  await school.goto(`${base}/scholen/100001`)
  await school.locator('.registration-link').first().waitFor()

  // The CLB comments on a passage of "understanding" and mentions the school member.
  await clb.goto(`${base}/registraties/${problem}`)
  await clb.locator('[data-section=understanding]').waitFor()
  await saved(clb)
  await clb.locator('[data-section=understanding]').click()
  await selectText(clb, 'understanding', 'spotten')
  await clb.click('section:has([data-section=understanding]) .comment-here')
  await clb.fill('#new-comment', 'Kunnen jullie dit navragen bij de leerlingenraad?')
  await clb.click('.mentions summary')
  await clb.check('.mentions input[type=checkbox] >> nth=0')
  await clb.click('.new-comment button[type=submit]')
  await clb.locator('.thread', { hasText: 'leerlingenraad' }).waitFor()

  // The school's overview shows the unread comment live, and Notificaties lists the mention.
  await school.locator('.registration-link', { hasText: 'Meer meldingen' }).locator('.unread').waitFor({ timeout: 2000 })
  await school.click('[data-testid=notifications-link]')
  await school.locator('.registration-link', { hasText: 'Sara Claes (CLB) vermeldde je' }).waitFor()
  await school.locator('.registration-link', { hasText: 'leerlingenraad' }).click()
  await school.waitForURL(new RegExp(`/registraties/${problem}$`))
  await school.locator('.thread', { hasText: 'leerlingenraad' }).waitFor()

  // The school deletes the passage: the thread stays, marked "tekst verwijderd". Only once
  // its editor is live: before that, the text shown may be replaced as the sync arrives.
  await saved(school)
  await selectText(school, 'understanding', 'spotten')
  await school.keyboard.press('Backspace')
  for (const page of [school, clb]) {
    await page.locator('.thread', { hasText: 'leerlingenraad' }).locator('.detached', { hasText: 'tekst verwijderd' }).waitFor({ timeout: 2000 })
  }

  // The school's reply reaches the CLB's notifications: it wrote in the thread.
  const thread = school.locator('.thread', { hasText: 'leerlingenraad' })
  await thread.locator('.reply input').fill('We vragen het na.')
  await thread.locator('.reply button[type=submit]').click()
  await clb.click('[data-testid=notifications-link]')
  await clb.locator('.registration-link', { hasText: 'Tom Peeters (De Linde) reageerde in een gesprek waaraan je deelnam' }).waitFor()
  await clb.locator('.registration-link', { hasText: 'We vragen het na.' }).waitFor()
  await clb.context().close()
  await school.context().close()
})

/** A new registration of De Linde, started by the CLB user of `page`, so a test edits only its own. */
async function newRegistration(page, title) {
  const id = await page.evaluate(async (t) => {
    const response = await fetch('/api/schools/100001/registrations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'signal', title: t }),
    })
    if (!response.ok) throw new Error(`create: ${response.status}`)
    return (await response.json()).id
  }, title)
  return id
}

/** Opens a registration and waits until its document is synced. */
async function open(page, id) {
  await page.goto(`${base}/registraties/${id}`)
  await goals(page).waitFor()
  await saved(page)
}

/** Types `text` at the end of a section and waits until the server has stored it. */
async function typeAtEnd(page, section, text) {
  await page.locator(`[data-section=${section}]`).click()
  await page.keyboard.press('Control+End')
  await page.keyboard.type(text)
  await saved(page)
}

const sectionIncludes = (page, section, text) =>
  page.waitForFunction(
    ([name, wanted]) => document.querySelector(`[data-section=${name}]`)?.textContent?.includes(wanted),
    [section, text],
    { timeout: 2000 },
  )

test('history: a named version, what changed since the last meeting in authors\' colours, and the version read-only', async () => {
  const clb = await person('clb@demo.test')
  const id = await newRegistration(clb, 'Geschiedenis: doelen rond het middagtoezicht')
  const school = await person('linde@demo.test')
  await open(clb, id)
  await open(school, id)
  await typeAtEnd(clb, 'goals', 'Het toezicht op de speelplaats wordt versterkt.')

  // Before any version: the one-click comparison explains why it cannot run yet.
  for (const page of [clb, school]) await page.click('[role=tab]:has-text("Geschiedenis")')
  await clb.locator('.history .empty', { hasText: 'Nog geen versies' }).waitFor()
  assert.equal(await clb.locator('.since-button').isDisabled(), true)
  await clb.locator('#since-from', { hasText: 'nog geen versie om mee te vergelijken' }).waitFor()

  // The CLB keeps a named version; it shows up in the school's panel live.
  await clb.fill('#version-name', 'Na schoolbeeldoverleg 1')
  await clb.click('.save-version button[type=submit]')
  await clb.locator('.save-version .ok', { hasText: 'Versie «Na schoolbeeldoverleg 1» bewaard.' }).waitFor()
  const version = school.locator('.version', { hasText: 'Na schoolbeeldoverleg 1' })
  await version.waitFor({ timeout: 2000 })
  await version.locator('.badge', { hasText: 'Benoemde versie' }).waitFor()
  await version.locator('.version-meta', { hasText: 'door Sara Claes (CLB)' }).waitFor()
  assert.equal(await school.locator('.version button', { hasText: 'Herstel deze versie' }).count(), 0, 'only CLB staff restore')

  // The school writes on; "what changed since the last meeting" shows it as an insertion in
  // the colour the legend gives Tom.
  await typeAtEnd(school, 'goals', ' De leerlingenraad helpt mee.')
  await sectionIncludes(clb, 'goals', 'De leerlingenraad helpt mee.')
  // The CLB changes a word: the old one shows as removed by the CLB, the new one as added.
  await selectText(clb, 'goals', 'versterkt')
  await clb.keyboard.press('Backspace')
  await clb.keyboard.type('verdubbeld')
  await saved(clb)
  await clb.click('.since-button')
  await clb.locator('#diff-title', { hasText: 'Veranderd sinds «Na schoolbeeldoverleg 1»' }).waitFor()
  assert.match(await clb.locator('#diff-title').textContent(), /tot nu$/)
  const inserted = clb.locator('.diff-view [data-diff-section=goals] ins', { hasText: 'De leerlingenraad helpt mee.' })
  await inserted.waitFor()
  assert.equal(await inserted.getAttribute('title'), 'Toegevoegd door Tom Peeters (De Linde)')
  const swatch = clb.locator('.diff-legend [data-author="Tom Peeters (De Linde)"] .swatch')
  const legendColor = await swatch.evaluate((el) => getComputedStyle(el).backgroundColor)
  const insertColor = await inserted.evaluate((el) => getComputedStyle(el).textDecorationColor)
  assert.equal(insertColor, legendColor, 'the insertion has the colour of its author in the legend')
  assert.match(await inserted.evaluate((el) => getComputedStyle(el).textDecorationLine), /underline/)
  const removed = clb.locator('.diff-view [data-diff-section=goals] del', { hasText: 'versterkt' })
  assert.equal(await removed.getAttribute('title'), 'Verwijderd door Sara Claes (CLB)')
  const saraColor = await clb.locator('.diff-legend [data-author="Sara Claes (CLB)"] .swatch').evaluate((el) => getComputedStyle(el).backgroundColor)
  assert.equal(await removed.evaluate((el) => getComputedStyle(el).textDecorationColor), saraColor, 'removed text has the colour of who removed it')
  assert.match(await removed.evaluate((el) => getComputedStyle(el).textDecorationLine), /line-through/)
  await clb.locator('.diff-view [data-diff-section=goals] ins', { hasText: 'verdubbeld' }).waitFor()
  const marked = await clb.locator('.diff-view [data-diff-section=goals] :is(ins, del)').allTextContents()
  assert.deepEqual(marked.sort(), [' De leerlingenraad helpt mee.', 'verdubbeld', 'versterkt'], 'only the changes are marked')
  await clb.locator('.unchanged summary', { hasText: '5 ongewijzigde onderdelen' }).waitFor()
  await clb.screenshot({ path: join(shots, 'history-diff.png'), fullPage: true })

  // The version itself, read-only, as the editor shows it; then back to the live text.
  await clb.click('.diff-view button:has-text("Terug naar nu")')
  await clb.locator('.version', { hasText: 'Na schoolbeeldoverleg 1' }).locator('button', { hasText: 'Bekijken' }).click()
  await clb.locator('.version-view #version-banner', { hasText: 'Je bekijkt de versie «Na schoolbeeldoverleg 1» van' }).waitFor()
  await sectionIncludes(clb, 'goals', 'Het toezicht op de speelplaats wordt versterkt.')
  assert.equal(await textOf(clb, 'goals'), 'Het toezicht op de speelplaats wordt versterkt.', 'the version does not have the later text')
  assert.equal(await goals(clb).getAttribute('contenteditable'), 'false')
  assert.equal(await clb.locator('.toolbar').count(), 0, 'no formatting toolbar on a version')
  await clb.screenshot({ path: join(shots, 'history-version.png'), fullPage: true })
  await clb.click('.version-view button:has-text("Terug naar nu")')
  await sectionIncludes(clb, 'goals', 'De leerlingenraad helpt mee.')
  assert.equal(await goals(clb).getAttribute('contenteditable'), 'true')
  await clb.context().close()
  await school.context().close()
})

test('"Auteurs tonen" colours the live text by who wrote it, while editing goes on', async () => {
  const clb = await person('clb@demo.test')
  const id = await newRegistration(clb, 'Geschiedenis: auteurs tonen')
  const school = await person('linde@demo.test')
  await open(clb, id)
  await open(school, id)
  await typeAtEnd(clb, 'understanding', 'Het CLB ziet een patroon.')
  await typeAtEnd(school, 'understanding', ' De school herkent het.')
  await sectionIncludes(clb, 'understanding', 'De school herkent het.')

  await clb.click('button[aria-pressed]:has-text("Auteurs tonen")')
  const mark = (page, who) => page.locator(`[data-section=understanding] .authored[title="${who}"]`)
  await mark(clb, 'Sara Claes (CLB)').first().waitFor({ timeout: 2000 })
  await mark(clb, 'Tom Peeters (De Linde)').first().waitFor({ timeout: 2000 })
  assert.equal(await mark(clb, 'Sara Claes (CLB)').first().textContent(), 'Het CLB ziet een patroon.')
  assert.equal(await mark(clb, 'Tom Peeters (De Linde)').first().textContent(), ' De school herkent het.')
  // Each in the colour the legend gives them (the mark is that colour, lighter).
  const rgb = (color) => color.match(/\d+/g).slice(0, 3).join(',')
  for (const who of ['Sara Claes (CLB)', 'Tom Peeters (De Linde)']) {
    const swatch = await clb.locator(`.view-bar [data-author="${who}"] .swatch`).evaluate((el) => getComputedStyle(el).backgroundColor)
    const marked = await mark(clb, who).first().evaluate((el) => getComputedStyle(el).backgroundColor)
    assert.equal(rgb(marked), rgb(swatch), `${who}'s text has their colour`)
    assert.match(marked, /^rgba\(.*, 0\.2\)$/, 'a light background, so the text stays readable')
  }

  // Editing goes on with the colours on: the CLB's new words take its colour at once.
  await typeAtEnd(clb, 'understanding', ' Nog een zin.')
  await clb.waitForFunction(
    () => [...document.querySelectorAll('[data-section=understanding] .authored[title="Sara Claes (CLB)"]')].some((el) => el.textContent.includes('Nog een zin.')),
    null,
    { timeout: 2000 },
  )
  // A writer the page has not seen yet (the school reloads: a new Yjs client) is named too.
  await school.reload()
  await goals(school).waitFor()
  await saved(school)
  await typeAtEnd(school, 'understanding', ' Na het herladen.')
  await clb.waitForFunction(
    () => [...document.querySelectorAll('[data-section=understanding] .authored[title="Tom Peeters (De Linde)"]')].some((el) => el.textContent.includes('Na het herladen.')),
    null,
    { timeout: 3000 },
  )
  await clb.screenshot({ path: join(shots, 'history-authors.png'), fullPage: true })
  await clb.click('button[aria-pressed]:has-text("Auteurs tonen")')
  assert.equal(await clb.locator('[data-section=understanding] .authored').count(), 0, 'off again')
  await clb.context().close()
  await school.context().close()
})

test('the CLB restores a version: the school\'s open editor shows the restored text live', async () => {
  const clb = await person('clb@demo.test')
  const id = await newRegistration(clb, 'Geschiedenis: een versie herstellen')
  const school = await person('linde@demo.test')
  await open(clb, id)
  await open(school, id)
  // An empty section says what belongs in it, or, where one may not write, that it is empty.
  await school.locator('[data-section=goals] p.is-editor-empty[data-placeholder="Wat willen we bereiken, en tegen wanneer?"]').waitFor()
  await school.locator('[data-section=advice] p.is-editor-empty[data-placeholder="Nog niets ingevuld."]').waitFor()
  await clb.locator('[data-section=advice] p.is-editor-empty[data-placeholder="Wat raadt het CLB aan, en waarom?"]').waitFor()
  await typeAtEnd(clb, 'goals', 'Afgesproken doel.')
  await school.locator('[data-section=goals] p.is-editor-empty').waitFor({ state: 'detached' })
  await clb.click('[role=tab]:has-text("Geschiedenis")')
  await clb.fill('#version-name', 'Afspraak van maandag')
  await clb.click('.save-version button[type=submit]')
  await clb.locator('.version', { hasText: 'Afspraak van maandag' }).waitFor()

  await typeAtEnd(school, 'goals', ' Later toegevoegd.')
  await sectionIncludes(clb, 'goals', 'Later toegevoegd.')
  await clb.locator('.version', { hasText: 'Afspraak van maandag' }).locator('button', { hasText: 'Herstel deze versie' }).click()
  const dialog = clb.locator('dialog.confirm')
  await dialog.locator('#restore-title', { hasText: 'Deze versie herstellen?' }).waitFor()
  await dialog.locator('button', { hasText: 'Ja, herstel deze versie' }).click()
  await clb.locator('.toast', { hasText: 'De versie «Afspraak van maandag» is hersteld.' }).waitFor()
  await school.waitForFunction(
    () => {
      const text = document.querySelector('[data-section=goals]')?.textContent ?? ''
      return text.includes('Afgesproken doel.') && !text.includes('Later toegevoegd.')
    },
    null,
    { timeout: 2000 },
  )
  const restore = clb.locator('.version-restore', { hasText: 'Teruggezet naar «Afspraak van maandag»' })
  await restore.waitFor({ timeout: 2000 })
  await restore.locator('.badge', { hasText: 'Teruggezet' }).waitFor()
  await clb.context().close()
  await school.context().close()
})

/** RFC 4648 base32 (as the account page shows a TOTP secret, spaces allowed) to bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  const out = []
  for (const c of text.replace(/\s/g, '')) {
    value = (value << 5) | alphabet.indexOf(c)
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out.push((value >>> bits) & 0xff)
      value &= (1 << bits) - 1
    }
  }
  return Buffer.from(out)
}

/** The time step of now, and the six-digit code of a step (RFC 6238), as an authenticator app computes them. */
const stepNow = () => Math.floor(Date.now() / 1000 / 30)
function totp(secret, step) {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = createHmac('sha1', secret).update(counter).digest()
  const offset = mac[mac.length - 1] & 0x0f
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0')
}

test('the registrations list keeps its filters in the URL, so they survive Back; pages are titled', async () => {
  const page = await person('clb@demo.test')
  await page.goto(`${base}/scholen/100001`)
  await page.locator('#overview-title', { hasText: 'Basisschool De Linde' }).waitFor()
  const all = await page.locator('.registration-link').count()
  await page.locator('.controls label', { hasText: 'Status' }).locator('select').selectOption('open')
  await page.locator('.controls input[type=search]').fill('pesten')
  await page.waitForURL((url) => url.search === '?zoek=pesten&status=open')
  const shown = await page.locator('.registration-link').count()
  assert.ok(shown > 0 && shown < all, `the filters narrow the list (${shown} of ${all})`)
  const first = page.locator('.registration-link').first()
  const title = await first.evaluate((a) => a.querySelector('.title')?.firstChild?.textContent?.trim())
  await first.click()
  await page.waitForURL(/\/registraties\//)
  await page.waitForFunction((t) => document.title === `${t} — Basisschool De Linde — Samen`, title)
  await page.goBack()
  await page.locator('#overview-title', { hasText: 'Basisschool De Linde' }).waitFor()
  assert.equal(await page.locator('.controls input[type=search]').inputValue(), 'pesten')
  assert.equal(await page.locator('.controls label', { hasText: 'Status' }).locator('select').inputValue(), 'open')
  assert.equal(await page.locator('.registration-link').count(), shown)
  await page.click('[data-testid=notifications-link]')
  await page.waitForFunction(() => document.title === 'Notificaties — Samen')
  await page.goto(`${base}/bestaat-niet`)
  await page.waitForFunction(() => document.title === 'Niet gevonden — Samen')
  await page.context().close()
})

test('a CLB worker with many schools finds one by name or number and sees what moved; the order survives Back', async () => {
  // A server of its own: five more schools for the demo CLB, added as an administrator would.
  const own = await startServer()
  try {
    for (let i = 1; i <= 5; i++) {
      execFileSync(bin, ['admin', '--data', own.dir, 'create-institution', '--kind', 'school', '--number', `20000${i}`, '--name', `Basisschool Nummer ${i}`, '--served-by', '900001'], {
        env: { ...process.env, SAMEN_LOG: 'warn' },
      })
    }
    const page = await person('clb@demo.test', own.url)
    await page.goto(`${own.url}/`)
    await page.locator('[data-school-search]').waitFor()
    assert.equal(await page.locator('a.school').count(), 7)
    const linde = page.locator('a.school[data-school="100001"]')
    assert.match(await linde.textContent(), /Instellingsnummer 100001 · Je volgt deze school op als CLB/)
    assert.match(await linde.textContent(), /Open registraties: [1-9]/)
    assert.match(await linde.textContent(), /Laatste activiteit/)
    assert.match(await page.locator('a.school[data-school="200001"]').textContent(), /Nog geen registraties/)

    await page.fill('[data-school-search]', 'anker')
    await page.locator('a.school').first().waitFor()
    assert.deepEqual(await page.locator('a.school').evaluateAll((cards) => cards.map((c) => c.dataset.school)), ['100002'])
    await page.fill('[data-school-search]', '20000')
    await page.locator('[role=status]', { hasText: '5 van 7 scholen' }).waitFor()
    await page.fill('[data-school-search]', 'bestaat niet')
    await page.locator('.empty', { hasText: 'Geen school gevonden voor “bestaat niet”.' }).waitFor()
    await page.fill('[data-school-search]', '')
    await page.selectOption('[data-school-order]', 'recent')
    await page.waitForURL((url) => url.search === '?volgorde=recent')
    const order = await page.locator('a.school').evaluateAll((cards) => cards.map((c) => c.dataset.school))
    assert.ok(['100001', '100002'].includes(order[0]) && ['100001', '100002'].includes(order[1]), `the schools with activity first: ${order}`)

    await page.setViewportSize({ width: 390, height: 844 })
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth), false, 'no horizontal scrolling on a phone')
    await page.screenshot({ path: join(shots, 'schools-many-phone.png'), fullPage: true })
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.screenshot({ path: join(shots, 'schools-many.png'), fullPage: true })
    await linde.click()
    await page.waitForURL(/\/scholen\/100001$/)
    await page.goBack()
    await page.locator('[data-school-order]').waitFor()
    assert.equal(await page.locator('[data-school-order]').inputValue(), 'recent')
    await page.context().close()
  } finally {
    own.stop()
  }
})

/** Every page a CLB worker reaches from the menu and the lists, with what shows it is drawn. */
const PAGES = [
  { name: 'schools', path: '/', ready: 'h1#schools-title' },
  { name: 'school', path: '/scholen/100001', ready: '#overview-title' },
  { name: 'registration', path: `/registraties/${LINDE_SIGNAL}`, ready: '[data-section=goals]' },
  { name: 'school-summary', path: '/scholen/100001/overzicht', ready: 'h1' },
  { name: 'clb-summary', path: '/clb/overzicht', ready: 'h1' },
  { name: 'search', path: '/zoeken?q=pesten', ready: '.search-results, [role=status]' },
  { name: 'notifications', path: '/notificaties', ready: '#notifications-title' },
  { name: 'account', path: '/account', ready: '#account-title' },
  { name: 'not-found', path: '/bestaat-niet', ready: '#error-title' },
]

/** Opens one of PAGES (on the server at `at`) and waits until it is drawn and its calls are done. */
async function visit(page, path, at = base) {
  await page.goto(`${at}${path}`)
  await page.locator(PAGES.find((p) => p.path === path).ready).first().waitFor()
  await page.waitForLoadState('networkidle')
}

test('every page fits a phone and a tablet without sideways scrolling; on a phone the menu folds', async () => {
  // A server of its own: the meeting planned here, and the server stopped at the end.
  const own = await startServer()
  const pages = []
  try {
    for (const [width, height, size] of [[390, 844, 'phone'], [768, 1024, 'tablet']]) {
      const context = await browser.newContext({ viewport: { width, height }, locale: 'nl-BE' })
      const page = await context.newPage()
      const fits = async (name) => {
        const wide = await page.evaluate(() => document.documentElement.scrollWidth)
        assert.ok(wide <= width, `${name} at ${width} px is ${wide} px wide`)
        await page.screenshot({ path: join(shots, `page-${name}-${size}.png`), fullPage: true })
      }
      await page.goto(`${own.url}/login`)
      await page.locator('#email').waitFor()
      await fits('login')
      await page.fill('#email', 'clb@demo.test')
      await page.fill('#password', 'demo')
      await page.click('button[type=submit]')
      await page.waitForURL((url) => !url.pathname.startsWith('/login'))
      for (const { name, path } of PAGES) {
        await visit(page, path, own.url)
        await fits(name)
      }
      // A meeting, planned for the purpose.
      const meeting = await page.evaluate(async () => {
        const response = await fetch('/api/schools/100001/meetings', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ held_on: '2026-10-08', participants: [] }),
        })
        if (!response.ok) throw new Error(`plan: ${response.status}`)
        return (await response.json()).meeting.id
      })
      await page.goto(`${own.url}/overleg/${meeting}`)
      await page.locator('h1').first().waitFor()
      await page.waitForLoadState('networkidle')
      await fits('meeting')
      // Its report, once it is held and closed.
      await page.evaluate(async (id) => {
        for (const [step, body] of [['start', {}], ['close', { second_moment_on: '2027-02-10' }]]) {
          const response = await fetch(`/api/meetings/${id}/${step}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
          if (!response.ok) throw new Error(`${step}: ${response.status} ${await response.text()}`)
        }
      }, meeting)
      await page.goto(`${own.url}/overleg/${meeting}/verslag`)
      await page.locator('h1').first().waitFor()
      await page.waitForLoadState('networkidle')
      await fits('meeting-report')
      const menu = page.locator('#menu')
      if (size === 'phone') {
        assert.equal(await menu.isVisible(), false, 'the menu is folded on a phone')
        await page.click('.menu-toggle')
        await fits('menu')
        await menu.locator('a', { hasText: 'Zoeken' }).click()
        await page.waitForURL(/\/zoeken/)
        await menu.waitFor({ state: 'hidden' })
      } else {
        assert.equal(await page.locator('.menu-toggle').isVisible(), false)
        await menu.locator('a', { hasText: 'Zoeken' }).waitFor()
      }
      // The school's agreements with an LSC, which the CLB never sees: as the school.
      const school = await person('linde@demo.test', own.url)
      await school.setViewportSize({ width, height })
      const agreement = await school.evaluate(async () => (await (await fetch('/api/schools/100001/agreements')).json()).agreements[0].id)
      await school.goto(`${own.url}/afspraken/${agreement}`)
      await school.locator('h1').first().waitFor()
      await school.waitForLoadState('networkidle')
      const wide = await school.evaluate(() => document.documentElement.scrollWidth)
      assert.ok(wide <= width, `agreements at ${width} px is ${wide} px wide`)
      await school.screenshot({ path: join(shots, `page-agreements-${size}.png`), fullPage: true })
      await school.context().close()
      await visit(page, `/registraties/${LINDE_SIGNAL}`, own.url)
      await saved(page)
      pages.push([page, width, fits])
    }
    // The server goes away: the offline notice does not squeeze the registration's title.
    own.proc.kill('SIGKILL')
    for (const [page, width, fits] of pages) {
      await page.locator('[data-save-state=offline]').waitFor()
      const title = await page.locator('#reg-title').evaluate((h) => h.getBoundingClientRect().width)
      assert.ok(title >= Math.min(width * 0.75, 440), `the title keeps its width offline: ${title} px at ${width}`)
      await fits('registration-offline')
      await page.context().close()
    }
  } finally {
    own.stop()
  }
})

test('every page passes axe-core, and the keyboard reaches sections and comments in a few steps', async () => {
  // axe is injected as a script of its own: only this test's pages set the CSP aside for it.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'nl-BE', bypassCSP: true })
  const page = await context.newPage()
  await page.goto(`${base}/login`)
  await page.locator('#email').waitFor()
  await accessible(page, 'login')
  await page.fill('#email', 'clb@demo.test')
  await page.fill('#password', 'demo')
  await page.click('button[type=submit]')
  await page.waitForURL((url) => !url.pathname.startsWith('/login'))
  for (const { path } of PAGES) {
    await visit(page, path)
    await accessible(page, path)
  }

  // The registration: one tab stop per toolbar, arrows within it; skip links to the text and the comments.
  await page.goto(`${base}/registraties/${LINDE_SIGNAL}`)
  await goals(page).waitFor()
  await saved(page)
  const stops = await page.evaluate(() => [...document.querySelectorAll('.sections button, .sections [contenteditable=true]')].filter((el) => el.tabIndex >= 0).length)
  assert.equal(stops, 12, 'six texts and six toolbars, one stop each')
  await goals(page).focus()
  await page.keyboard.press('Shift+Tab')
  assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Vet')
  await page.keyboard.press('ArrowRight')
  await page.keyboard.press('ArrowRight')
  assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Kop')
  await page.keyboard.press('Tab')
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-section')), 'goals', 'Tab leaves the toolbar for the text')
  await page.click('.jump a:has-text("Reacties")')
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'new-comment')
  await page.click('.jump a:has-text("Advies van het CLB")')
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-section')), 'advice')
  // The details form takes the focus, and gives it back when closed.
  await page.click('#edit-details')
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'edit-title')
  await page.keyboard.press('Tab')
  await page.click('form.edit button:has-text("Annuleren")')
  await page.waitForFunction(() => document.activeElement?.id === 'edit-details')
  await context.close()

  // The platform administrator reads no dossier: the start page says what to do instead.
  const admin = await person('admin@demo.test')
  await admin.locator('[data-admin-note]', { hasText: 'samen admin' }).waitFor()
  assert.equal(await admin.locator('.empty', { hasText: 'Vraag je beheerder' }).count(), 0)
  await admin.context().close()
})

test('two-step verification: set up from the account page with a QR code, then the login asks for the code', async () => {
  // Nadia (Het Anker) turns it on, and off again at the end, so the other tests' logins stay as they were.
  const page = await person('anker@demo.test')
  await page.click('[data-testid=account-link]')
  await page.locator('h1', { hasText: 'Mijn account' }).waitFor()
  const totpCard = page.locator('[data-testid=totp]')
  await totpCard.locator('.state', { hasText: 'Staat uit' }).waitFor()
  await page.click('button:has-text("Tweestapsverificatie instellen")')
  await page.fill('#totp-password', 'fout')
  await page.click('button:has-text("Verder")')
  await page.locator('[role=alert]', { hasText: 'Dit wachtwoord klopt niet' }).waitFor()
  await page.fill('#totp-password', 'demo')
  await page.click('button:has-text("Verder")')
  const qr = page.locator('[data-testid=totp-qr]')
  await qr.waitFor()
  assert.ok((await qr.locator('path').getAttribute('d')).length > 1000, 'the QR code is drawn')
  const secret = base32(await page.locator('[data-testid=totp-secret]').textContent())
  assert.equal(secret.length, 20)
  await page.screenshot({ path: join(shots, 'account-totp-setup.png'), fullPage: true })

  const enrolled = stepNow()
  await page.fill('#totp-code', totp(secret, enrolled))
  await page.click('button:has-text("Inschakelen")')
  const codes = page.locator('[data-testid=recovery-codes] code')
  await codes.first().waitFor()
  assert.equal(await codes.count(), 10)
  const recovery = await codes.allTextContents()
  await page.screenshot({ path: join(shots, 'account-totp-recovery.png'), fullPage: true })
  await page.click('button:has-text("Ik heb mijn herstelcodes bewaard")')
  await totpCard.locator('.state', { hasText: 'Staat aan sinds' }).waitFor()
  await page.context().close()

  // On a phone: the password alone leads to the code page; a wrong code says what to do.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'nl-BE' })
  const login = await phone.newPage()
  await login.goto(`${base}/login`)
  await login.fill('#email', 'anker@demo.test')
  await login.fill('#password', 'demo')
  await login.click('button[type=submit]')
  await login.locator('h1', { hasText: 'Tweestapsverificatie' }).waitFor()
  assert.equal(await login.getAttribute('#code', 'autocomplete'), 'one-time-code')
  assert.ok(!(await phone.cookies()).some((c) => c.name === 'samen_session'), 'no session for the password alone')
  const taken = [-1, 0, 1, 2].map((o) => totp(secret, stepNow() + o))
  const wrong = ['000000', '111111', '222222'].find((c) => !taken.includes(c))
  await login.fill('#code', wrong)
  await login.click('button:has-text("Bevestigen")')
  await login.locator('[role=alert]', { hasText: 'Deze code klopt niet' }).waitFor()
  await login.screenshot({ path: join(shots, 'login-totp-phone.png'), fullPage: true })
  await login.fill('#code', totp(secret, enrolled + 1))
  await login.click('button:has-text("Bevestigen")')
  await login.locator('#overview-title', { hasText: 'Het Anker' }).waitFor()
  const overflow = await login.evaluate(() => document.documentElement.scrollWidth > window.innerWidth)
  assert.equal(overflow, false, 'no horizontal scrolling on a phone')

  // The account page on the phone: on, with ten recovery codes; turned off with the password and a recovery code.
  await login.goto(`${base}/account`)
  await login.locator('.state', { hasText: 'Staat aan sinds' }).waitFor()
  await login.locator('text=Je hebt nog 10 ongebruikte herstelcodes.').waitFor()
  await login.screenshot({ path: join(shots, 'account-totp-phone.png'), fullPage: true })
  await login.click('button:has-text("Tweestapsverificatie uitzetten")')
  await login.fill('#totp-password', 'demo')
  await login.fill('#totp-code', recovery[0])
  await login.click('button:has-text("Uitzetten")')
  await login.locator('.state', { hasText: 'Staat uit' }).waitFor()
  // And the setup on a phone: the QR code fits the screen.
  await login.click('button:has-text("Tweestapsverificatie instellen")')
  await login.fill('#totp-password', 'demo')
  await login.click('button:has-text("Verder")')
  await login.locator('[data-testid=totp-qr]').waitFor()
  assert.equal(await login.evaluate(() => document.documentElement.scrollWidth > window.innerWidth), false)
  await login.screenshot({ path: join(shots, 'account-totp-setup-phone.png'), fullPage: true })
  await login.click('button:has-text("Annuleren")')
  await phone.close()

  // Nadia logs in with her password alone again (the unconfirmed setup changes nothing).
  const again = await person('anker@demo.test')
  await again.context().close()
})

test('an edit too large for the server says so and is not resent for ever', async () => {
  // A server that takes messages of at most 4 KiB; a 20,000-character paste is one update.
  const small = await startServer(['--max-message-bytes', '4096'])
  try {
    const page = await person('clb@demo.test', small.url)
    await page.goto(`${small.url}/registraties/${LINDE_SIGNAL}`)
    await saved(page)
    await goals(page).click()
    await page.keyboard.insertText('x'.repeat(20000))
    const indicator = page.locator('[data-save-state]')
    await page.locator('[data-save-state=too_large]').waitFor({ timeout: 10000 })
    assert.match(await indicator.textContent(), /te groot om in één keer op te slaan/)
    // y-websocket would reconnect within 2.5 s and send the same update again.
    await page.waitForTimeout(4000)
    assert.equal(await indicator.getAttribute('data-save-state'), 'too_large')
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.screenshot({ path: join(shots, 'save-too-large.png') })
    await page.context().close()
  } finally {
    small.stop()
  }
})

test('an LSC sees its school without registrations, plans a meeting with the school and the CLB, and they find it', async () => {
  const lsc = await person('lsc@demo.test')
  await lsc.goto(`${base}/`)
  // Two schools: the LSC chooses (someone with one school lands in it).
  await lsc.locator('a.school', { hasText: 'Basisschool De Linde' }).click()
  await lsc.locator('[data-lsc-note]').waitFor()
  assert.equal(await lsc.locator('[data-kind]').count(), 0, 'no registrations for an LSC')
  await lsc.getByText('Nog geen overleg gepland voor deze school.').waitFor()

  await lsc.getByRole('button', { name: 'Overleg plannen' }).click()
  const form = lsc.locator('[data-meeting-form]')
  await form.getByLabel('Datum').fill('2026-10-15')
  // The people of the school and of its CLB are offered (the LSC's own staff but her: she
  // takes part anyway); Het Anker's are not.
  await form.getByLabel('Tom Peeters (De Linde)').check()
  await form.getByLabel('Sara Claes (CLB)').check()
  assert.equal(await form.getByText('Nadia El Amrani (Het Anker)').count(), 0)
  await form.getByLabel('Andere deelnemers, met hun rol').fill('zorgleerkracht 3de graad')
  await lsc.screenshot({ path: join(shots, 'meeting-plan.png'), fullPage: true })
  await form.getByRole('button', { name: 'Plannen' }).click()

  await lsc.waitForURL(/\/overleg\//)
  await lsc.locator('#meeting-title', { hasText: 'Schoolbeeldoverleg 2026-2027' }).waitFor()
  await lsc.locator('[data-meeting-day]', { hasText: '15 oktober 2026' }).waitFor()
  const people = lsc.locator('[data-participants] li[data-person]')
  assert.equal(await people.count(), 3)
  await lsc.locator('[data-participants] li.guest', { hasText: 'zorgleerkracht 3de graad' }).waitFor()
  await lsc.screenshot({ path: join(shots, 'meeting.png'), fullPage: true })
  const path = new URL(lsc.url()).pathname

  // The school finds it on its overview, and moves it a week.
  const school = await person('linde@demo.test')
  await school.goto(`${base}/scholen/100001`)
  await school.locator('[data-meetings] a', { hasText: 'Schoolbeeldoverleg 2026-2027' }).click()
  await school.waitForURL((url) => url.pathname === path)
  await school.getByRole('button', { name: 'Gegevens wijzigen' }).click()
  await school.locator('[data-meeting-form]').getByLabel('Datum').fill('2026-10-22')
  await school.locator('[data-meeting-form]').getByRole('button', { name: 'Opslaan' }).click()
  await school.locator('[data-meeting-day]', { hasText: '22 oktober 2026' }).waitFor()

  // Another school's member finds nothing there.
  const other = await person('anker@demo.test')
  await other.goto(`${base}${path}`)
  await other.getByRole('heading', { name: /niet gevonden/i }).waitFor()
  for (const page of [lsc, school, other]) await page.context().close()
})

test('school and LSC write their agreements together, and the CLB never sees them', async () => {
  const school = await person('linde@demo.test')
  const lsc = await person('lsc@demo.test')
  const clb = await person('clb@demo.test')
  await school.goto(`${base}/scholen/100001`)
  await school.locator('[data-agreements] a', { hasText: 'LSC Demo' }).click()
  await school.waitForURL(/\/afspraken\//)
  const path = new URL(school.url()).pathname
  await school.locator('[data-section=agreements]').waitFor()
  await saved(school)
  await lsc.goto(`${base}/scholen/100001`)
  // The LSC sees its own agreements only, not those of the other LSC that serves De Linde.
  await lsc.locator('[data-agreements] a', { hasText: 'LSC Demo' }).waitFor()
  assert.equal(await lsc.locator('[data-agreements] a', { hasText: 'LSC Specifiek Demo' }).count(), 0)
  await lsc.locator('[data-agreements] a', { hasText: 'LSC Demo' }).click()
  await lsc.waitForURL((url) => url.pathname === path)
  await lsc.locator('[data-section=agreements]').waitFor()
  await saved(lsc)

  await typeAtEnd(school, 'agreements', 'Het LSC komt om de twee weken een halve dag.')
  await sectionIncludes(lsc, 'agreements', 'om de twee weken')
  await typeAtEnd(lsc, 'report', 'Besproken op 15 oktober.')
  await sectionIncludes(school, 'report', 'Besproken op 15 oktober.')
  // A document the LSC uploads appears on the school's open page, told by the agreements'
  // own room (the school's event stream, which the CLB hears, never carries it).
  await lsc.locator('[data-files=agreement-files] input[type=file]').setInputFiles({ name: 'Tijdskader LSC.txt', mimeType: 'text/plain', buffer: Buffer.from('Het LSC komt om de twee weken.\n') })
  await school.locator('[data-files=agreement-files] [data-file="Tijdskader LSC.txt"]').waitFor({ timeout: 10000 })
  await school.screenshot({ path: join(shots, 'agreements.png'), fullPage: true })

  // The CLB's overview of De Linde has no agreements, and their page is "Niet gevonden".
  await clb.goto(`${base}/scholen/100001`)
  await clb.locator('[data-meetings]').waitFor()
  assert.equal(await clb.locator('[data-agreements]').count(), 0)
  await clb.goto(`${base}${path}`)
  await clb.getByRole('heading', { name: /niet gevonden/i }).waitFor()
  for (const page of [school, lsc, clb]) await page.context().close()
})

test('a schoolbeeldoverleg end to end: three partners, the chair leads, action items, closing makes the report', async () => {
  const errorsBefore = pageErrors.length
  const school = await person('linde@demo.test')
  const clb = await person('clb@demo.test')
  const lsc = await person('lsc@demo.test')

  // The school plans it with the CLB and the LSC.
  await school.goto(`${base}/scholen/100001`)
  await school.getByRole('button', { name: 'Overleg plannen' }).click()
  const form = school.locator('[data-meeting-form]')
  await form.getByLabel('Datum').fill('2026-11-05')
  await form.getByLabel('Sara Claes (CLB)').check()
  await form.getByLabel('Lotte Janssens (LSC)').check()
  await form.getByRole('button', { name: 'Plannen' }).click()
  await school.waitForURL(/\/overleg\//)
  const path = new URL(school.url()).pathname
  await clb.goto(`${base}${path}`)
  await lsc.goto(`${base}${path}`)

  // Everyone sees everyone present.
  for (const page of [school, clb, lsc]) {
    await page.waitForFunction(() => document.querySelectorAll('[data-participants] li[data-here=true]').length === 3)
  }

  // The school starts the meeting and chairs it; the others follow.
  await school.getByRole('button', { name: 'Overleg starten' }).click()
  await school.locator('[data-chair]', { hasText: 'Jij leidt het overleg' }).waitFor()
  await clb.locator('[data-chair="Tom Peeters (De Linde)"] [data-following]').waitFor()
  await clb.locator('[data-started]').waitFor()
  assert.equal(await clb.locator('[data-start-meeting]').count(), 0, 'started: nothing left to start')

  // A priority: the school names it, the LSC writes its own expectations, which the CLB
  // sees but may not change.
  await school.locator('[data-add-priority]').click()
  const pid = await school.locator('[data-priority]').first().getAttribute('data-priority')
  await school.getByLabel('Prioriteit 1').fill('Welbevinden in de derde graad')
  await lsc.waitForFunction(() => document.querySelector('[data-priority] input')?.value === 'Welbevinden in de derde graad')
  const lscPart = `[data-section="p.${pid}.lsc.800001"]`
  await lsc.locator(lscPart).click()
  await lsc.keyboard.type('Coaching in de klas, één keer per week')
  await clb.locator(lscPart, { hasText: 'Coaching in de klas, één keer per week' }).waitFor()
  assert.equal(await clb.locator(lscPart).getAttribute('contenteditable'), 'false')
  await saved(lsc)

  // The chair moves on; the followers' view follows.
  await school.locator('[data-point=actions]').click()
  await clb.locator('[data-current-point=actions]').waitFor()
  await lsc.locator('[data-current-point=actions]').waitFor()

  // The LSC breaks away to fill in its trajectories, then comes back to the chair.
  await lsc.locator('[data-point=trajectories]').click()
  await lsc.locator('[data-current-point=trajectories]').waitFor()
  await lsc.locator('[data-section="trajectories.800001"]').click()
  await lsc.keyboard.type('Type 9: 3 trajecten, niveau lager')
  await saved(lsc)
  assert.equal(await clb.locator('[data-current-point=actions]').count(), 1, 'the CLB still follows the chair')
  await lsc.locator('[data-follow]').click()
  await lsc.locator('[data-current-point=actions]').waitFor()

  // An action item for the LSC, ticked off live.
  await clb.getByLabel('Wat').fill('Observatie-instrument delen met het zorgteam')
  await clb.getByLabel('Wie').selectOption({ label: 'LSC Demo' })
  await clb.getByLabel('Tegen').fill('2026-12-01')
  await clb.getByRole('button', { name: 'Actie toevoegen' }).click()
  const item = (page) => page.locator('[data-action]', { hasText: 'Observatie-instrument delen' })
  await item(lsc).getByRole('checkbox').check()
  await school.waitForFunction(() => document.querySelector('[data-action] input[type=checkbox]')?.checked === true)
  await clb.getByLabel('Wat').fill('Trajectoverzicht actualiseren met juf An')
  await clb.getByLabel('Wie').selectOption({ label: 'LSC Demo' })
  await clb.getByRole('button', { name: 'Actie toevoegen' }).click()
  await item(lsc).first().waitFor()
  // The name guard marks the name in the item, and one click replaces it for everyone.
  const named = lsc.locator('[data-action]', { hasText: 'Trajectoverzicht actualiseren' })
  await named.locator('[data-name-hint="An"]').waitFor({ timeout: 10000 })
  await named.locator('[data-name-hint="An"]').getByRole('button', { name: '→ de leerkracht' }).click()
  await school.locator('[data-action]', { hasText: 'Trajectoverzicht actualiseren met de leerkracht' }).waitFor()
  await named.locator('[data-name-hint]').waitFor({ state: 'detached', timeout: 10000 })
  await school.screenshot({ path: join(shots, 'meeting-mode.png'), fullPage: true })
  await lsc.setViewportSize({ width: 390, height: 844 })
  await lsc.screenshot({ path: join(shots, 'meeting-mode-phone.png'), fullPage: true })
  await lsc.setViewportSize({ width: 1280, height: 800 })

  // The school's registrations, inline: the CLB updates a status note without leaving; the
  // LSC, who does not see registrations, is told so.
  await school.locator('[data-point=registrations]').click()
  await lsc.locator('[data-registrations-elsewhere]').waitFor()
  assert.equal(await lsc.locator('[data-point=registrations]').count(), 0)
  const reg = clb.locator(`[data-registration="${LINDE_SIGNAL}"]`)
  await reg.getByRole('button', { name: 'Bespreken' }).click()
  await reg.locator('[data-section=status_note]').click()
  await clb.keyboard.press('Control+End')
  await clb.keyboard.type(' Besproken op het schoolbeeldoverleg.')
  await reg.locator('[data-save-state=saved]').waitFor({ timeout: 5000 })

  // Closing: a second moment planned, the report made.
  await school.locator('[data-close-meeting]').click()
  await school.locator('[data-second-moment]').fill('2027-02-10')
  await school.getByRole('button', { name: 'Afsluiten en verslag maken' }).click()
  await school.waitForURL(/\/verslag$/)
  const report = school.locator('[data-report]')
  await report.getByText('Welbevinden in de derde graad').waitFor()
  await report.getByText('Coaching in de klas, één keer per week').waitFor()
  await report.getByText('Type 9: 3 trajecten, niveau lager').waitFor()
  await report.locator('[data-report-actions] li.done', { hasText: 'Observatie-instrument delen' }).waitFor()
  await report.locator('[data-report-registrations] li', { hasText: 'versie "Na Schoolbeeldoverleg 2026-2027 (5 november 2026)" bewaard' }).waitFor()
  await school.screenshot({ path: join(shots, 'meeting-report-page.png'), fullPage: true })
  const pdf = await school.request.get(`${base}${await school.locator('[data-report-pdf]').getAttribute('href')}`)
  assert.equal(pdf.status(), 200)
  assert.equal(pdf.headers()['content-type'], 'application/pdf')
  assert.ok((await pdf.body()).subarray(0, 5).toString() === '%PDF-')

  // The verslag is polished after the close.
  await school.goto(`${base}${path}?punt=report`)
  await school.locator('[data-section=report]').click()
  await school.keyboard.type('Achteraf aangevuld door de school.')
  await saved(school)

  // The others see it closed, and the second moment looks back on the first.
  await clb.reload()
  await clb.locator('[data-closed]').waitFor()
  await clb.locator('[data-second-moment-link]').click()
  await clb.locator('[data-since-first]').waitFor()
  await clb.locator('[data-actions-done]', { hasText: '1 van 2 acties zijn afgevinkt.' }).waitFor()
  await clb.locator('[data-since-first]').getByText('Geen van de besproken registraties veranderde sindsdien.').waitFor()
  await clb.locator('[data-meeting-diff]').click()
  await clb.locator('[data-diff-section=report] ins', { hasText: 'Achteraf aangevuld door de school.' }).waitFor()
  await clb.screenshot({ path: join(shots, 'meeting-second-moment.png'), fullPage: true })

  // The LSC finds what is still hers on the school's page.
  await lsc.goto(`${base}/scholen/100001`)
  const yours = lsc.locator('[data-your-actions]')
  await yours.getByText('Trajectoverzicht actualiseren').waitFor()
  assert.equal(await yours.getByText('Observatie-instrument delen').count(), 0, 'done: not listed')
  await yours.getByRole('link', { name: 'Schoolbeeldoverleg 2026-2027' }).click()
  await lsc.locator('[data-current-point=actions]').waitFor()
  for (const page of [school, clb, lsc]) await page.context().close()
  assert.deepEqual(pageErrors.slice(errorsBefore), [], 'no page had an uncaught error')
})

test('a registration and the school year download as PDF and Word, the overview as CSV and Excel', async () => {
  const page = await person('clb@demo.test')
  await page.goto(`${base}/registraties/${LINDE_SIGNAL}`)
  const downloaded = async (locator) => {
    const [download] = await Promise.all([page.waitForEvent('download'), locator.click()])
    const { readFile } = await import('node:fs/promises')
    return { name: download.suggestedFilename(), bytes: await readFile(await download.path()) }
  }
  const one = await downloaded(page.locator('[data-export-pdf]'))
  assert.equal(one.name, `registratie-${LINDE_SIGNAL}.pdf`)
  assert.equal(one.bytes.subarray(0, 5).toString(), '%PDF-')
  const word = await downloaded(page.locator('[data-export-docx]'))
  assert.equal(word.name, `registratie-${LINDE_SIGNAL}.docx`)
  assert.equal(word.bytes.subarray(0, 2).toString(), 'PK', 'a Word file is a ZIP')

  await page.goto(`${base}/scholen/100001`)
  await page.locator('[data-export-year-pdf]').waitFor()
  await page.evaluate(() => {
    window.exportStates = []
    new MutationObserver(() => {
      const state = document.querySelector('.export-state[role=status]')
      if (state) window.exportStates.push(state.textContent.trim())
    }).observe(document.body, { subtree: true, childList: true, characterData: true })
  })
  const year = await downloaded(page.locator('[data-export-year-pdf]'))
  assert.match(year.name, /^samenwerkingsdossier-100001-\d{4}-\d{4}\.pdf$/)
  const states = await page.evaluate(() => window.exportStates)
  assert.ok(
    states.some((s) => /\d+ van \d+ registraties verzameld|Bestand wordt opgemaakt/.test(s)),
    `the page said how far the export was: ${JSON.stringify(states)}`,
  )
  assert.equal(year.bytes.subarray(0, 5).toString(), '%PDF-')
  const csv = await downloaded(page.locator('[data-export-csv]'))
  assert.match(csv.bytes.toString('utf8'), /^id,soort,titel,thema,status,/)
  const xlsx = await downloaded(page.locator('[data-export-xlsx]'))
  assert.match(xlsx.name, /^overzicht-100001-\d{4}-\d{4}\.xlsx$/)
  assert.equal(xlsx.bytes.subarray(0, 2).toString(), 'PK')
  const yearWord = await downloaded(page.locator('[data-export-year-docx]'))
  assert.match(yearWord.name, /^samenwerkingsdossier-100001-\d{4}-\d{4}\.docx$/)
  await page.context().close()
})

test('the overview for the doorlichting: figures, charts with their tables, what waits longest', async () => {
  const page = await person('clb@demo.test')
  await page.goto(`${base}/scholen/100001`)
  await page.locator('[data-summary-link]').click()
  await page.waitForURL(/\/scholen\/100001\/overzicht/)
  await page.locator('[data-summary] h1', { hasText: 'Basisschool De Linde' }).waitFor()
  const total = Number(await page.locator('[data-figure=total] .n').textContent())
  assert.ok(total > 0, 'the demo school has registrations this year')
  assert.ok((await page.locator('figure.chart canvas').count()) >= 2, 'charts drawn')
  // Every chart's figures are a table too.
  await page.locator('figure.chart').first().getByText('Tabel').click()
  await page.locator('figure.chart').first().locator('table tbody tr').first().waitFor()
  await page.locator('[data-longest-open] tbody tr').first().waitFor()
  await page.screenshot({ path: join(shots, 'doorlichting-overview.png'), fullPage: true })
  await page.setViewportSize({ width: 390, height: 844 })
  // The charts redraw at the new width; then nothing scrolls sideways.
  await page.waitForFunction(() => document.documentElement.scrollWidth <= 390, null, { timeout: 5000 })
  await page.screenshot({ path: join(shots, 'doorlichting-overview-phone.png'), fullPage: true })

  // Across the CLB's schools: one row per school, the year can be changed.
  await page.setViewportSize({ width: 1280, height: 800 })
  await page.goto(`${base}/`)
  await page.locator('[data-clb-summary-link]').click()
  await page.waitForURL(/\/clb\/overzicht/)
  await page.waitForFunction(() => document.querySelectorAll('[data-clb-schools] tbody tr').length === 2)
  const shown = await page.locator('[data-clb-year]').textContent()
  await page.getByRole('button', { name: 'Vorig schooljaar' }).click()
  await page.waitForFunction((was) => document.querySelector('[data-clb-year]')?.textContent !== was, shown)
  await page.getByRole('button', { name: 'Volgend schooljaar' }).click()
  await page.locator('[data-clb-year]', { hasText: shown }).waitFor()
  await page.screenshot({ path: join(shots, 'clb-overview.png'), fullPage: true })
  await page.context().close()
})

test('the name guard underlines a name as it is typed, a replacement clears it for everyone, and "dit is geen naam" is kept', async () => {
  const errorsBefore = pageErrors.length
  const clb = await person('clb@demo.test')
  const school = await person('linde@demo.test')
  // A registration of its own, so that the demo's stays as it is.
  const id = await clb.evaluate(async () => {
    const response = await fetch('/api/schools/100001/registrations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'consultation', title: 'Naamwacht', theme: 'welbevinden' }),
    })
    return (await response.json()).id
  })
  for (const page of [clb, school]) {
    await page.goto(`${base}/registraties/${id}`)
    await goals(page).waitFor()
    await saved(page)
  }
  await goals(school).click()
  await school.keyboard.type('Lotte uit 5B krijgt extra uitleg van juf Roos.', { delay: 10 })
  const underlined = (page, name) =>
    page.locator(`[data-section=goals] .name-finding[data-name-finding="${name}"]`)
  // Both see the names underlined once the server has read the edit.
  for (const page of [school, clb]) {
    await underlined(page, 'Lotte').waitFor({ timeout: 5000 })
    await underlined(page, 'Roos').waitFor({ timeout: 5000 })
  }
  assert.match(await underlined(school, 'Lotte').getAttribute('title'), /Geen namen van leerlingen of leerkrachten/)
  // The school's page lists the registration among those with possible names.
  const list = await school.context().newPage()
  await list.goto(`${base}/scholen/100001`)
  await list.locator('[data-name-findings]', { hasText: 'Naamwacht' }).waitFor({ timeout: 5000 })
  assert.match(await list.locator('[data-name-findings]').textContent(), /2 mogelijke namen/)
  await list.close()

  // The caret in the name shows the hint and its replacements; one click replaces it.
  await underlined(school, 'Lotte').click()
  const hint = school.locator('[data-name-hint="Lotte"]')
  await hint.waitFor()
  await school.screenshot({ path: join(shots, 'name-guard.png') })
  await hint.getByRole('button', { name: '→ een leerling' }).click()
  for (const page of [school, clb]) {
    // Read without the carets' name labels, which sit right where the replacement went.
    const deadline = Date.now() + 5000
    while (!/een leerling uit 5B/i.test(await textOf(page, 'goals'))) {
      assert.ok(Date.now() < deadline, `the replacement reaches both: ${await textOf(page, 'goals')}`)
      await page.waitForTimeout(100)
    }
    await underlined(page, 'Lotte').waitFor({ state: 'detached', timeout: 5000 })
  }

  // "Dit is geen naam": the CLB dismisses Roos, and it is no longer underlined anywhere.
  await underlined(clb, 'Roos').click()
  await clb.locator('[data-name-hint="Roos"] [data-not-a-name]').click()
  for (const page of [clb, school]) {
    await underlined(page, 'Roos').waitFor({ state: 'detached', timeout: 5000 })
  }
  const names = await clb.evaluate(async (doc) => (await fetch(`/api/documents/${doc}/names`)).json(), id)
  assert.deepEqual(names.findings, [])
  assert.equal(names.dismissals[0].name, 'roos')
  assert.equal(names.dismissals[0].dismissed_by.name, 'Sara Claes (CLB)')

  // A comment being written is read too, and the name replaced before it is sent.
  await school.fill('#new-comment', 'Graag overleg met juf An hierover.')
  const commentHint = school.locator('.new-comment [data-name-hint="An"]')
  await commentHint.waitFor({ timeout: 5000 })
  await commentHint.getByRole('button', { name: '→ de leerkracht' }).click()
  assert.equal(await school.inputValue('#new-comment'), 'Graag overleg met de leerkracht hierover.')
  await commentHint.waitFor({ state: 'detached' })

  // A stored comment is read as well: its author can replace the name in one click, the
  // others see the hint (and may say it is no name).
  await clb.evaluate(async (reg) => {
    await fetch(`/api/registrations/${reg}/comments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'Overleg met juf An gepland.' }),
    })
  }, id)
  const stored = (page) => page.locator('.comment', { hasText: 'Overleg met' }).locator('[data-name-hint="An"]')
  await stored(school).waitFor({ timeout: 10000 })
  assert.equal(await stored(school).getByRole('button', { name: '→ de leerkracht' }).count(), 0, 'not the school\'s comment to change')
  await stored(clb).getByRole('button', { name: '→ de leerkracht' }).click()
  await clb.locator('.comment', { hasText: 'Overleg met de leerkracht gepland.' }).waitFor()
  await stored(school).waitFor({ state: 'detached', timeout: 10000 })
  assert.deepEqual(pageErrors.slice(errorsBefore), [], 'no page had an uncaught error')
})

test('documents: the school uploads with a progress bar, the CLB sees it appear live and downloads it, a refused file says why', async () => {
  const errorsBefore = pageErrors.length
  const school = await person('linde@demo.test')
  const clb = await person('clb@demo.test')
  for (const page of [school, clb]) {
    await page.goto(`${base}/scholen/100001`)
    await page.locator('[data-files=school-files] .empty, [data-files=school-files] table').first().waitFor()
  }
  // A 3 MB PDF: large enough for the progress bar to show on the way.
  const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(3 * 1024 * 1024, 0x20), Buffer.from('\n%%EOF\n')])
  await school.evaluate(() => {
    window.sawProgress = false
    new MutationObserver(() => {
      if (document.querySelector('[data-upload-progress]')) window.sawProgress = true
    }).observe(document.body, { subtree: true, childList: true })
  })
  await school.locator('[data-files=school-files] input[type=file]').setInputFiles({ name: 'Verslag overleg.pdf', mimeType: 'application/pdf', buffer: pdf })
  await school.locator('[data-files=school-files] [data-file="Verslag overleg.pdf"]').waitFor({ timeout: 10000 })
  assert.ok(await school.evaluate(() => window.sawProgress), 'the progress bar showed while uploading')

  // The CLB's page shows it without a reload, and the link downloads the same bytes.
  const row = clb.locator('[data-files=school-files] [data-file="Verslag overleg.pdf"]')
  await row.waitFor({ timeout: 5000 })
  assert.match(await row.textContent(), /PDF/)
  assert.match(await row.textContent(), /Tom Peeters/)
  const [download] = await Promise.all([clb.waitForEvent('download'), row.getByRole('link', { name: 'Verslag overleg.pdf' }).click()])
  assert.equal(download.suggestedFilename(), 'Verslag overleg.pdf')
  const saved = join(mkdtempSync(join(tmpdir(), 'samen-dl-')), 'dl.pdf')
  await download.saveAs(saved)
  const { readFileSync } = await import('node:fs')
  assert.equal(readFileSync(saved).length, pdf.length)

  // A page named .pdf is refused, and the page says why in Dutch.
  await school.locator('[data-files=school-files] input[type=file]').setInputFiles({ name: 'brief.pdf', mimeType: 'application/pdf', buffer: Buffer.from('<!DOCTYPE html><script>alert(1)</script>') })
  const alert = school.locator('[data-files=school-files] [role=alert]')
  await alert.waitFor({ timeout: 5000 })
  assert.match(await alert.textContent(), /‘brief\.pdf’ kan niet/)
  await school.screenshot({ path: join(shots, 'documents.png'), fullPage: true })

  // The school deletes it with a reason: gone for the CLB too; the CLB restores it.
  const mine = school.locator('[data-files=school-files] [data-file="Verslag overleg.pdf"]')
  await mine.locator('[data-remove-file]').click()
  await school.getByLabel('Waarom verwijder je ‘Verslag overleg.pdf’?').fill('Verkeerde versie opgeladen')
  await school.locator('.remove-row').getByRole('button', { name: 'Verwijderen' }).click()
  await mine.waitFor({ state: 'detached', timeout: 5000 })
  await row.waitFor({ state: 'detached', timeout: 5000 })
  await clb.locator('[data-files=school-files] .bin summary').click()
  const binned = clb.locator('[data-files=school-files] [data-deleted-file="Verslag overleg.pdf"]')
  await binned.waitFor({ timeout: 5000 })
  assert.match(await binned.textContent(), /Verkeerde versie opgeladen/)
  await binned.getByRole('button', { name: 'Terugzetten' }).click()
  await row.waitFor({ timeout: 5000 })
  await mine.waitFor({ timeout: 5000 })
  assert.deepEqual(pageErrors.slice(errorsBefore), [], 'no page had an uncaught error')
})

/** A minimal valid PDF: one A4 page per text, each in large black Helvetica, with a correct xref. */
function tinyPdf(...texts) {
  const pages = texts.map((_, i) => `${5 + 2 * i} 0 R`).join(' ')
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${pages}] /Count ${texts.length} >>`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    '<< /ProcSet [/PDF /Text] /Font << /F1 3 0 R >> >>',
  ]
  for (const [i, text] of texts.entries()) {
    const content = `BT /F1 40 Tf 60 700 Td (${text}) Tj ET`
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 4 0 R /Contents ${6 + 2 * i} 0 R >>`)
    objects.push(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`)
  }
  let pdf = '%PDF-1.4\n'
  const offsets = objects.map((body, i) => {
    const at = pdf.length
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`
    return at
  })
  const xref = pdf.length
  // Each xref entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, CR/LF pair.
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`
  pdf += offsets.map((at) => `${String(at).padStart(10, '0')} 00000 n \n`).join('')
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`
  return Buffer.from(pdf, 'latin1')
}

/** A real PNG of `width` × `height` pixels: blue with a dark diagonal band. */
async function tinyPng(width, height) {
  const { deflateSync } = await import('node:zlib')
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (bytes) => {
    let c = 0xffffffff
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const out = Buffer.alloc(body.length + 8)
    out.writeUInt32BE(data.length, 0)
    body.copy(out, 4)
    out.writeUInt32BE(crc(body), body.length + 4)
    return out
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8 bits per channel, RGB, no interlace
  const rows = []
  for (let y = 0; y < height; y++) {
    const row = [0] // filter: none
    for (let x = 0; x < width; x++) row.push(...(Math.abs(x - y) < 4 ? [20, 30, 40] : [60, 120, 220]))
    rows.push(Buffer.from(row))
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

test('documents preview: a PDF drawn by pdf.js page by page, an earlier version, an image, within the CSP', async () => {
  const errorsBefore = pageErrors.length
  const school = await person('linde@demo.test')
  const clb = await person('clb@demo.test')
  // Violations of the app's CSP (in the page or in pdf.js's worker) are logged to the console.
  const violations = []
  for (const page of [school, clb]) {
    page.on('console', (m) => {
      if (m.text().includes('Content Security Policy')) violations.push(m.text())
    })
    await page.goto(`${base}/scholen/100001`)
    await page.locator('[data-files=school-files] .empty, [data-files=school-files] table').first().waitFor()
  }
  const files = (page) => page.locator('[data-files=school-files]')
  const dialog = (page) => page.locator('dialog[data-preview-dialog=school-files]')
  const pdfRow = (page) => files(page).locator('[data-file="Verslag zorgoverleg.pdf"]')
  const pngRow = (page) => files(page).locator('[data-file="Plattegrond klas.png"]')

  await files(school).locator('input[type=file]').setInputFiles([
    { name: 'Verslag zorgoverleg.pdf', mimeType: 'application/pdf', buffer: tinyPdf('Verslag overleg') },
    { name: 'Plattegrond klas.png', mimeType: 'image/png', buffer: await tinyPng(40, 24) },
    { name: 'Kapot verslag.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\nno objects here\n%%EOF\n') },
  ])
  await files(school).locator('[data-file="Kapot verslag.pdf"]').waitFor({ timeout: 10000 })
  // A second version of the report, of two pages: the first one stays in its versions.
  const [chooser] = await Promise.all([
    school.waitForEvent('filechooser'),
    pdfRow(school).getByRole('button', { name: 'Nieuwe versie' }).click(),
  ])
  await chooser.setFiles({ name: 'Verslag zorgoverleg.pdf', mimeType: 'application/pdf', buffer: tinyPdf('Verslag overleg', 'Afspraken') })
  await pdfRow(school).locator('.versions summary', { hasText: '2 versies' }).waitFor({ timeout: 10000 })

  // The CLB sees both live; Word files get no preview button, these do.
  await pngRow(clb).waitFor({ timeout: 5000 })
  await pdfRow(clb).locator('.versions summary', { hasText: '2 versies' }).waitFor({ timeout: 5000 })
  const pdfjsLoaded = () => clb.evaluate(() => performance.getEntriesByType('resource').some((e) => /\/assets\/pdf[-.]/.test(e.name)))
  assert.equal(await pdfjsLoaded(), false, 'pdf.js is not loaded before a PDF preview opens')

  // The earlier version: one page, "Pagina 1 van 1", and the canvas holds dark (text) pixels.
  await pdfRow(clb).locator('.versions summary').click()
  const older = pdfRow(clb).locator('.versions [data-preview]')
  await older.click()
  await dialog(clb).waitFor()
  assert.equal(await dialog(clb).getByRole('heading').textContent(), 'Verslag zorgoverleg.pdf')
  await dialog(clb).locator('[data-preview-pages]', { hasText: 'Pagina 1 van 1' }).waitFor({ timeout: 15000 })
  const darkPixels = (n) =>
    clb.waitForFunction(
      (page) => {
        const canvas = document.querySelector(`dialog[data-preview-dialog=school-files] [data-page="${page}"] canvas`)
        if (!canvas || canvas.width < 100) return 0
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)
        let dark = 0
        for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 200 && data[i] + data[i + 1] + data[i + 2] < 200) dark++
        return dark > 500 ? dark : 0
      },
      n,
      { timeout: 15000 },
    )
  assert.ok(await (await darkPixels(1)).jsonValue() > 500, 'the page shows its text')
  assert.ok(await pdfjsLoaded(), 'pdf.js and its worker came from our own assets')
  await clb.screenshot({ path: join(shots, 'preview.png') })
  await clb.keyboard.press('Escape')
  await dialog(clb).waitFor({ state: 'hidden' })
  assert.ok(await older.evaluate((button) => document.activeElement === button), 'focus returns to the button')

  // The newest version: two pages; the second is drawn when scrolled to.
  await pdfRow(clb).locator('.file-actions [data-preview]').click()
  await dialog(clb).locator('[data-preview-pages]', { hasText: 'Pagina 1 van 2' }).waitFor({ timeout: 15000 })
  await darkPixels(1)
  await dialog(clb).locator('.preview-body').evaluate((body) => body.scrollTo(0, body.scrollHeight))
  await darkPixels(2)
  await dialog(clb).locator('[data-preview-pages]', { hasText: 'Pagina 2 van 2' }).waitFor({ timeout: 5000 })
  await dialog(clb).getByRole('button', { name: 'Sluiten' }).click()
  await dialog(clb).waitFor({ state: 'hidden' })

  // The image: shown by the browser itself, scaled into the dialog.
  await pngRow(clb).locator('[data-preview]').click()
  const img = dialog(clb).getByRole('img', { name: 'Plattegrond klas.png' })
  await img.waitFor()
  await clb.waitForFunction(() => document.querySelector('dialog[data-preview-dialog=school-files] img')?.naturalWidth > 0)
  assert.equal(await img.evaluate((el) => el.naturalWidth), 40)
  await clb.keyboard.press('Escape')
  await dialog(clb).waitFor({ state: 'hidden' })

  // A PDF that pdf.js cannot read says so, and offers the download instead.
  await files(clb).locator('[data-file="Kapot verslag.pdf"] [data-preview]').click()
  const failed = dialog(clb).getByRole('alert')
  await failed.waitFor({ timeout: 15000 })
  assert.match(await failed.textContent(), /Dit bestand kan hier niet getoond worden\. Download het om het te openen\./)
  assert.match(await failed.getByRole('link', { name: 'Downloaden' }).getAttribute('href'), /^\/api\/files\/[^/]+\/content\?version=/)
  await clb.keyboard.press('Escape')
  await dialog(clb).waitFor({ state: 'hidden' })

  // At phone width the dialog and the page fit the screen.
  await clb.setViewportSize({ width: 390, height: 800 })
  await pdfRow(clb).locator('.file-actions [data-preview]').click()
  await darkPixels(1)
  const widths = await dialog(clb).evaluate((d) => [d.getBoundingClientRect().width, d.querySelector('canvas').getBoundingClientRect().width, document.documentElement.scrollWidth])
  assert.ok(widths[0] <= 390 && widths[1] <= 390 && widths[1] > 300, `fits at 390 px: ${widths}`)
  await clb.screenshot({ path: join(shots, 'preview-phone.png') })
  await clb.keyboard.press('Escape')

  assert.deepEqual(violations, [], 'nothing broke the CSP')
  assert.deepEqual(pageErrors.slice(errorsBefore), [], 'no page had an uncaught error')
  await school.context().close()
  await clb.context().close()
})

test('the name guard reads an uploaded document: its names counted live, shown where they stand, one dismissed', async () => {
  const errorsBefore = pageErrors.length
  const school = await person('linde@demo.test')
  const clb = await person('clb@demo.test')
  for (const page of [school, clb]) {
    await page.goto(`${base}/scholen/100001`)
    await page.locator('[data-files=school-files] .empty, [data-files=school-files] table').first().waitFor()
  }
  const text = 'Verslag van het overleg over de klas.\nWe spraken met juf An over het leesbeleid.\n'
  await school.locator('[data-files=school-files] input[type=file]').setInputFiles({ name: 'Overleg leesbeleid.txt', mimeType: 'text/plain', buffer: Buffer.from(text) })
  // The server reads the text after the upload; the count reaches the CLB's open page too.
  const hint = clb.locator('[data-files=school-files] [data-file="Overleg leesbeleid.txt"] [data-text-check=names]')
  await hint.waitFor({ timeout: 10000 })
  assert.match(await hint.textContent(), /In de tekst staat mogelijk 1 naam/)
  await hint.getByRole('button', { name: 'Toon waar' }).click()
  const finding = hint.locator('[data-text-finding="An"]')
  await finding.waitFor({ timeout: 5000 })
  assert.equal(await finding.locator('mark').textContent(), 'An')
  assert.match(await finding.textContent(), /We spraken met juf An over het leesbeleid/)

  // The school's list of places with names names the document, after a reload.
  await school.reload()
  const listed = school.locator('[data-name-findings] a', { hasText: 'Overleg leesbeleid.txt' })
  await listed.waitFor({ timeout: 5000 })
  assert.match(await listed.textContent(), /Document · 1 mogelijke naam/)

  // "Dit is geen naam": gone for both, and from the list.
  await finding.getByRole('button', { name: 'Dit is geen naam' }).click()
  await hint.waitFor({ state: 'detached', timeout: 5000 })
  await school.locator('[data-files=school-files] [data-file="Overleg leesbeleid.txt"] [data-text-check=names]').waitFor({ state: 'detached', timeout: 5000 })
  await school.reload()
  await school.locator('[data-files=school-files] [data-file="Overleg leesbeleid.txt"]').waitFor()
  assert.equal(await school.locator('[data-name-findings] a', { hasText: 'Overleg leesbeleid.txt' }).count(), 0)
  assert.deepEqual(pageErrors.slice(errorsBefore), [], 'no page had an uncaught error')
  await school.context().close()
  await clb.context().close()
})

test('search finds Dutch word forms the user may read, with the words marked, and the query survives Back', async () => {
  const errorsBefore = pageErrors.length
  const clb = await person('clb@demo.test')
  const other = await person('linde@demo.test')
  await clb.goto(`${base}/`)
  await clb.getByTestId('search-link').click()
  await clb.waitForURL(/\/zoeken/)
  // The demo's "problematische afwezigheden" at Het Anker, found by another form.
  await clb.getByLabel('Zoektermen').fill('afwezig')
  await clb.getByRole('button', { name: 'Zoeken', exact: true }).click()
  await clb.waitForURL(/q=afwezig/)
  const result = clb.locator('[data-search-result]').first()
  await result.waitFor({ timeout: 15000 })
  assert.match(await result.locator('mark').first().textContent(), /afwezig/i)
  await clb.screenshot({ path: join(shots, 'search.png'), fullPage: true })
  // One card per registration: its school, kind and year, and each matching part below.
  const group = clb.locator('[data-search-group]').first()
  assert.match(await group.textContent(), /Het Anker · Signaal · 2026-2027/)
  assert.match(await result.textContent(), /^(Titel|Signaal) · /)
  await group.getByRole('link').click()
  await clb.waitForURL(/\/registraties\//)
  await clb.goBack()
  await clb.locator('[data-search-result]').first().waitFor()
  assert.equal(await clb.getByLabel('Zoektermen').inputValue(), 'afwezig')
  // Filters go into the URL too: the school and theme keep the result, another theme not.
  await clb.getByLabel('School', { exact: true }).selectOption({ label: 'Middenschool Het Anker' })
  await clb.getByLabel('Thema').selectOption('leerplicht/spijbelen')
  await clb.getByRole('button', { name: 'Zoeken', exact: true }).click()
  await clb.waitForURL(/school=100002/)
  await clb.locator('[data-search-result]').first().waitFor()
  await clb.getByLabel('Thema').selectOption('pesten')
  await clb.getByRole('button', { name: 'Zoeken', exact: true }).click()
  await clb.waitForURL(/theme=pesten/)
  await clb.locator('[data-search] .empty').waitFor()
  // "Eerder geadviseerd": advice written at Het Anker on bullying shows beside De Linde's
  // registration on the same theme, for the CLB that serves both.
  const other_reg = await clb.evaluate(async () => {
    const response = await fetch('/api/schools/100002/registrations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'signal', title: 'Pesten in de middagpauze', theme: 'pesten' }),
    })
    return (await response.json()).id
  })
  await clb.goto(`${base}/registraties/${other_reg}`)
  await clb.locator('[data-section=advice]').waitFor()
  await saved(clb)
  await typeAtEnd(clb, 'advice', 'Meer toezicht tijdens de middagpauze en herstelgesprekken.')
  await saved(clb)
  await clb.goto(`${base}/registraties/6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0001`)
  await clb.getByRole('tab', { name: 'Eerder geadviseerd' }).click()
  const advised = clb.locator(`[data-earlier="${other_reg}"]`)
  for (let i = 0; i < 20 && !(await advised.count()); i++) {
    await clb.waitForTimeout(500)
    await clb.locator('[data-earlier-advice]').getByRole('button', { name: 'Opnieuw zoeken' }).click()
  }
  await advised.waitFor({ timeout: 5000 })
  assert.match(await advised.textContent(), /Middenschool Het Anker · 2026-2027 · \d+% gelijkend/)
  assert.match(await advised.textContent(), /herstelgesprekken/)

  // Another school's member finds nothing of Het Anker's.
  await other.goto(`${base}/zoeken?q=afwezig`)
  await other.locator('[data-search] .empty, [data-search-result]').first().waitFor({ timeout: 15000 })
  for (const text of await other.locator('[data-search-group]').allTextContents()) assert.doesNotMatch(text, /Het Anker/)

  // A meeting is found by those at the school's table, under its own card.
  const meeting = await other.evaluate(async () => {
    const response = await fetch('/api/schools/100001/meetings', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ held_on: '2026-10-15', title: 'Overleg over woordenschat' }),
    })
    return (await response.json()).meeting.id
  })
  await clb.goto(`${base}/zoeken?q=woordenschat&kind=meeting`)
  const found = clb.locator('[data-search-group=meeting]').first()
  await found.waitFor({ timeout: 15000 })
  assert.match(await found.textContent(), /Overleg over woordenschat/)
  assert.match(await found.textContent(), /Basisschool De Linde · Schoolbeeldoverleg/)
  await found.getByRole('link').click()
  await clb.waitForURL(new RegExp(`/overleg/${meeting}`))
  assert.deepEqual(pageErrors.slice(errorsBefore), [], 'no page had an uncaught error')
  await clb.context().close()
  await other.context().close()
})

test('what changed since one\'s last visit: the list marks it, and the registration offers the changes with their author', async () => {
  const errorsBefore = pageErrors.length
  const school = await person('linde@demo.test')
  const clb = await person('clb@demo.test')
  const registration = `${base}/registraties/${LINDE_SIGNAL}`
  const card = school.locator(`[data-id="${LINDE_SIGNAL}"]`)
  // The school's member reads it and leaves; then the CLB writes advice. Leaving is
  // recorded a moment after the connection closes, so the CLB writes until the list
  // marks the change.
  await school.goto(registration)
  await saved(school)
  await school.goto(`${base}/scholen/100001`)
  await card.waitFor()
  await clb.goto(registration)
  await clb.locator('[data-section=advice]').waitFor()
  await saved(clb)
  for (let i = 0; i < 10 && !(await card.locator('[data-since=changed]').count()); i++) {
    await typeAtEnd(clb, 'advice', ' Advies na het bezoek.')
    await saved(clb)
    await school.reload()
    await card.waitFor()
  }
  const mark = card.locator('[data-since=changed]')
  assert.match(await mark.textContent(), /tekst gewijzigd/)
  await school.screenshot({ path: join(shots, 'since-visit-list.png'), fullPage: true })

  // Opening it offers what changed since, by whom.
  await card.click()
  const banner = school.locator('[data-since-visit]')
  await banner.waitFor({ timeout: 10000 })
  await banner.getByRole('button', { name: 'Wijzigingen sinds je vorige bezoek' }).click()
  await school.locator('#diff-title', { hasText: 'Wijzigingen sinds je vorige bezoek' }).waitFor()
  const added = school.locator('[data-diff-section=advice] ins').first()
  await added.waitFor()
  assert.match(await added.textContent(), /Advies na het bezoek/)
  assert.match(await added.getAttribute('data-author'), /Sara Claes/)
  await school.screenshot({ path: join(shots, 'since-visit-diff.png'), fullPage: true })
  assert.deepEqual(pageErrors.slice(errorsBefore), [], 'no page had an uncaught error')
  await school.context().close()
  await clb.context().close()
})
