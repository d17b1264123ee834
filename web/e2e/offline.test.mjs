// Working without a connection (issue 21, part 1), in a real Chromium against a real
// `samen serve --demo`: the offline copy in IndexedDB, the save indicator's honest states,
// the service worker that lets a page reload offline, and erasing it all at logout.
//
//   SAMEN_BIN (default: target/debug/samen) · CHROMIUM (default: /usr/bin/chromium)

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { LINDE_SIGNAL, launchBrowser, logIn, logInOn, startSamen, textOf } from './support.mjs'

const OFFLINE_TEXT = 'Offline — je wijzigingen worden bewaard op dit toestel en verstuurd zodra je weer verbonden bent'

let samen
let base
let browser
/** Uncaught errors of every page: none may happen. */
const pageErrors = []

before(async () => {
  samen = await startSamen()
  base = samen.url
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  samen?.stop()
  assert.deepEqual(pageErrors, [], 'no page had an uncaught error')
})

/** Logs `email` in on `page`, straight to `next`, and waits for the service worker to be ready. */
async function login(page, email, next = `/registraties/${LINDE_SIGNAL}`) {
  await logInOn(page, base, email, next)
  await page.evaluate(() => navigator.serviceWorker.ready)
}

/** A browser of its own (a context) with `email` logged in, as `login` leaves it. */
async function person(email, next = `/registraties/${LINDE_SIGNAL}`) {
  const page = await logIn(browser, base, email, { pageErrors, next })
  await page.evaluate(() => navigator.serviceWorker.ready)
  return page
}

const goals = (page) => page.locator('[data-section=goals]')
const indicator = (page) => page.locator('[data-save-state]')
const saved = (page) => page.locator('[data-save-state=saved]').waitFor({ timeout: 10000 })
const sees = (page, section, text, timeout = 10000) =>
  page.waitForFunction(
    ([name, wanted]) => document.querySelector(`[data-section=${name}]`)?.textContent?.includes(wanted),
    [section, text],
    { timeout },
  )
async function openRegistration(page, id = LINDE_SIGNAL) {
  await page.goto(`${base}/registraties/${id}`)
  await goals(page).waitFor()
  await saved(page)
}
async function typeInto(page, section, key, text) {
  await page.locator(`[data-section=${section}]`).click()
  await page.keyboard.press(key)
  await page.keyboard.type(text, { delay: 10 })
}
/** The goals as the server holds them, read by a page that is online. */
const storedGoals = (page, id = LINDE_SIGNAL) =>
  page.evaluate(async (reg) => (await (await fetch(`/api/registrations/${reg}/content`)).json()).sections.goals, id)
/** The names of the IndexedDB databases of the page's origin. */
const databases = (page) => page.evaluate(async () => (await indexedDB.databases()).map((db) => db.name))
/** Every cache of the page's origin with the addresses it holds. */
const cacheContents = (page) =>
  page.evaluate(async () => {
    const all = {}
    for (const name of await caches.keys()) {
      all[name] = (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname)
    }
    return all
  })
const userId = (page) => page.evaluate(async () => (await (await fetch('/api/me')).json()).user.id)

test('two people type offline at once: the indicator says so and counts, and both edits merge when back', async () => {
  const clb = await person('clb@demo.test')
  const school = await person('linde@demo.test')
  for (const page of [clb, school]) await openRegistration(page)

  await clb.context().setOffline(true)
  await school.context().setOffline(true)
  for (const page of [clb, school]) await page.locator('[data-save-state=offline]').waitFor({ timeout: 5000 })
  // Nothing typed yet: no count.
  assert.equal(await indicator(school).textContent(), OFFLINE_TEXT)

  await typeInto(clb, 'goals', 'Control+End', ' CLB offline erbij.')
  await typeInto(school, 'goals', 'Control+Home', 'School offline erbij. ')
  for (const page of [clb, school]) {
    const pending = Number(await indicator(page).getAttribute('data-pending'))
    assert.ok(pending > 0, `edits are counted (${pending})`)
    assert.equal(await indicator(page).textContent(), `${OFFLINE_TEXT} (${pending} wijzigingen nog niet verstuurd)`)
    assert.equal(await indicator(page).getAttribute('data-save-state'), 'offline')
  }
  // Offline means apart: neither sees the other's words yet.
  assert.ok(!(await textOf(clb, 'goals')).includes('School offline erbij.'))
  assert.ok(!(await textOf(school, 'goals')).includes('CLB offline erbij.'))

  await clb.context().setOffline(false)
  await school.context().setOffline(false)
  await Promise.all([sees(clb, 'goals', 'School offline erbij.'), sees(school, 'goals', 'CLB offline erbij.')])
  for (const page of [clb, school]) {
    await saved(page)
    assert.equal(await indicator(page).textContent(), 'Opgeslagen')
    assert.equal(await indicator(page).getAttribute('data-pending'), '0')
  }
  assert.equal(await textOf(clb, 'goals'), await textOf(school, 'goals'), 'both see the same goals')
  const stored = await storedGoals(school)
  assert.ok(stored.startsWith('School offline erbij. '), `the school's words are stored first: ${stored}`)
  assert.ok(stored.includes('CLB offline erbij.'), `the CLB's words are stored: ${stored}`)
  await clb.context().close()
  await school.context().close()
})

test('a reload without a connection keeps what was typed, and it reaches the server once back', async () => {
  const school = await person('linde@demo.test')
  // A second load of the page, now that the service worker runs: it keeps what the page reads.
  await openRegistration(school)
  await school.context().setOffline(true)
  await school.locator('[data-save-state=offline]').waitFor({ timeout: 5000 })
  await typeInto(school, 'goals', 'Control+End', ' Getypt zonder verbinding, dan herladen.')
  const pending = Number(await indicator(school).getAttribute('data-pending'))
  assert.ok(pending > 0)

  // The network is still cut: the app comes from the service worker, the text from IndexedDB.
  await school.reload()
  await sees(school, 'goals', 'Getypt zonder verbinding, dan herladen.')
  await school.locator('[data-save-state=offline]').waitFor({ timeout: 5000 })
  assert.equal(await indicator(school).getAttribute('data-pending'), String(pending), 'the count survives the reload')
  assert.equal(await indicator(school).textContent(), `${OFFLINE_TEXT} (${pending} wijzigingen nog niet verstuurd)`)
  // The cut is real for the worker too: an answer it never kept is not there.
  const unknown = await school.evaluate(() =>
    fetch('/api/registrations/00000000-0000-0000-0000-000000000000').then((r) => r.status, () => 'network error'),
  )
  assert.equal(unknown, 'network error')

  await school.context().setOffline(false)
  await saved(school)
  assert.equal(await indicator(school).getAttribute('data-pending'), '0')
  const clb = await person('clb@demo.test')
  await sees(clb, 'goals', 'Getypt zonder verbinding, dan herladen.')
  assert.ok((await storedGoals(clb)).includes('Getypt zonder verbinding, dan herladen.'))
  await clb.context().close()
  await school.context().close()
})

test('logging out erases the offline copy, and whoever logs in next on that browser finds nothing of it', async () => {
  const page = await person('linde@demo.test')
  await openRegistration(page)
  const linde = await userId(page)
  // The copy is there: a database named after the user and the registration, and the worker's answers.
  const copy = `samen-doc:${linde}:${LINDE_SIGNAL}`
  assert.ok((await databases(page)).includes(copy), 'the registration is kept in IndexedDB')
  const kept = await cacheContents(page)
  assert.ok(kept[`samen-api-${linde}`]?.includes(`/api/registrations/${LINDE_SIGNAL}`), 'the worker keeps the registration')
  assert.ok(kept[`samen-api-${linde}`]?.includes('/api/me'), 'and who is logged in')
  const lindeGoals = (await textOf(page, 'goals')).trim()
  assert.ok(lindeGoals.length > 10)

  // Nothing unsent: logging out asks nothing (a question would be dismissed, and this wait fail).
  await page.click('nav button:has-text("Afmelden")')
  await page.waitForURL(/\/login/)
  await page.waitForFunction(async () => !(await indexedDB.databases()).some((db) => db.name.startsWith('samen')), null, { timeout: 5000 })
  const left = await cacheContents(page)
  // Only the app itself, the same for everyone, stays.
  assert.deepEqual(Object.keys(left), ['samen-shell'])
  for (const path of left['samen-shell']) assert.ok(path === '/' || path.startsWith('/assets/'), `the shell holds ${path}`)
  assert.equal(await page.evaluate(() => localStorage.getItem('samen-offline')), null)

  // Someone of another school logs in on the same browser.
  await login(page, 'anker@demo.test', '/account')
  const anker = await userId(page)
  // Their own registration is kept for them, under their name.
  const { registrations } = await page.evaluate(async () => (await fetch('/api/schools/100002/registrations')).json())
  await openRegistration(page, registrations[0].id)
  const names = await databases(page)
  assert.deepEqual(names, [`samen-doc:${anker}:${registrations[0].id}`])
  const cachesNow = await cacheContents(page)
  assert.ok(!Object.keys(cachesNow).some((name) => name.includes(linde)), `no cache of the first user: ${Object.keys(cachesNow)}`)
  // Offline, the first user's registration cannot be read from this browser either.
  await page.context().setOffline(true)
  await page.goto(`${base}/registraties/${LINDE_SIGNAL}`)
  await page.locator('h1', { hasText: 'Geen verbinding' }).waitFor({ timeout: 5000 })
  assert.equal(await goals(page).count(), 0, 'no registration is shown')
  assert.ok(!(await page.locator('main').textContent()).includes(lindeGoals.slice(0, 20)), 'nothing of its text')
  await page.context().setOffline(false)
  await page.context().close()
})

test('a session found gone (401) erases what was read but keeps unsent edits for their owner', async () => {
  const page = await person('linde@demo.test')
  await openRegistration(page)
  const linde = await userId(page)
  const copy = `samen-doc:${linde}:${LINDE_SIGNAL}`
  assert.ok((await databases(page)).includes(copy))
  // Read only: the session ends behind the page's back (it expired, or was ended
  // elsewhere), and the copy goes with it.
  await page.context().clearCookies()
  await page.reload()
  await page.waitForURL(/\/login/)
  await page.waitForFunction(async () => !(await indexedDB.databases()).some((db) => db.name.startsWith('samen')), null, { timeout: 5000 })
  assert.deepEqual(Object.keys(await cacheContents(page)), ['samen-shell'])

  // With an edit typed offline that the server does not have yet, the session ends too.
  await login(page, 'linde@demo.test')
  await openRegistration(page)
  await page.context().setOffline(true)
  await page.locator('[data-save-state=offline]').waitFor({ timeout: 5000 })
  await typeInto(page, 'goals', 'Control+End', ' Geschreven voor het verlopen.')
  await page.context().clearCookies()
  await page.context().setOffline(false)
  await page.reload()
  await page.waitForURL(/\/login/)
  // What was only read is gone; the document with the unsent edit stays, for her alone.
  await waitFor(async () => !Object.keys(await cacheContents(page)).some((name) => name.startsWith('samen-api')))
  assert.deepEqual(await databases(page), [copy])
  // She logs in again: the edit reaches the server.
  await login(page, 'linde@demo.test')
  await openRegistration(page)
  await waitFor(async () => (await storedGoals(page)).includes('Geschreven voor het verlopen.'))
  await page.context().close()
})

test('closing the page or logging out with edits not yet sent asks first', async () => {
  const page = await person('linde@demo.test')
  await openRegistration(page)
  await page.context().setOffline(true)
  await page.locator('[data-save-state=offline]').waitFor({ timeout: 5000 })
  await typeInto(page, 'goals', 'Control+End', ' Nog niet verstuurd.')
  const pending = Number(await indicator(page).getAttribute('data-pending'))
  const dialogs = []
  page.on('dialog', async (dialog) => {
    dialogs.push({ type: dialog.type(), message: dialog.message() })
    await dialog.dismiss()
  })

  // Logging out would erase them: it asks, and "no" keeps everything.
  await page.click('nav button:has-text("Afmelden")')
  await waitFor(() => dialogs.length === 1)
  assert.equal(dialogs[0].type, 'confirm')
  assert.equal(
    dialogs[0].message,
    `${pending} wijzigingen nog niet verstuurd: als je je nu afmeldt, worden die wijzigingen van dit toestel gewist en gaan ze verloren. Toch afmelden?`,
  )
  assert.match(page.url(), /\/registraties\//)
  assert.ok((await textOf(page, 'goals')).includes('Nog niet verstuurd.'))
  assert.equal(await indicator(page).getAttribute('data-pending'), String(pending))

  // Closing the tab asks too; staying keeps the page.
  await page.close({ runBeforeUnload: true })
  await waitFor(() => dialogs.length === 2)
  assert.equal(dialogs[1].type, 'beforeunload')
  assert.equal(page.isClosed(), false)

  // Once everything is stored, closing asks nothing.
  await page.context().setOffline(false)
  await saved(page)
  const closed = page.waitForEvent('close')
  await page.close({ runBeforeUnload: true })
  await closed
  assert.equal(dialogs.length, 2)
  await page.context().close()
})

test('a comment written offline is refused with a clear message, and its text stays in the box', async () => {
  const page = await person('linde@demo.test')
  await openRegistration(page)
  await page.context().setOffline(true)
  await page.fill('#new-comment', 'Een vraag zonder verbinding.')
  await page.click('.new-comment button[type=submit]')
  await page
    .locator('.new-comment [role=alert]', { hasText: 'Geen verbinding met de server: er is niets verstuurd. Probeer opnieuw zodra je weer verbonden bent.' })
    .waitFor({ timeout: 5000 })
  assert.equal(await page.inputValue('#new-comment'), 'Een vraag zonder verbinding.')
  // Back online, the same box sends it.
  await page.context().setOffline(false)
  await page.click('.new-comment button[type=submit]')
  await page.locator('.thread .comment-body', { hasText: 'Een vraag zonder verbinding.' }).waitFor({ timeout: 5000 })
  assert.equal(await page.inputValue('#new-comment'), '')
  await page.context().close()
})

test('edits typed offline on a page since left are sent once the connection is back', async () => {
  const page = await person('linde@demo.test')
  await openRegistration(page)
  await page.context().setOffline(true)
  await page.locator('[data-save-state=offline]').waitFor({ timeout: 5000 })
  await typeInto(page, 'goals', 'Control+End', ' Achtergelaten en toch verstuurd.')
  // Elsewhere in the app (no reload): the registration's page is gone.
  await page.click('[data-testid=account-link]')
  await page.waitForURL(/\/account/)
  assert.equal(await goals(page).count(), 0)
  await page.context().setOffline(false)
  const clb = await person('clb@demo.test')
  await waitFor(async () => (await storedGoals(clb)).includes('Achtergelaten en toch verstuurd.'), 10000)
  await clb.context().close()
  await page.context().close()
})

test('an edit refused on arrival is shown to its author to copy, and dropped from the browser', async () => {
  const clb = await person('clb@demo.test')
  const school = await person('linde@demo.test')
  await school.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base })
  // A registration of its own: this one gets closed.
  const { registrations } = await clb.evaluate(async () => (await fetch('/api/schools/100001/registrations')).json())
  const reg = registrations.find((r) => r.status === 'open' && r.id !== LINDE_SIGNAL)?.id
  assert.ok(reg, 'another open registration of De Linde')
  await openRegistration(school, reg)
  const copy = `samen-doc:${await userId(school)}:${reg}`

  await school.context().setOffline(true)
  await school.locator('[data-save-state=offline]').waitFor({ timeout: 5000 })
  await typeInto(school, 'goals', 'Control+End', ' Dit kwam te laat.')
  // Meanwhile the CLB closes the registration: nobody may write in it any more.
  const closed = await clb.evaluate(
    async (id) => (await fetch(`/api/registrations/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'closed' }) })).status,
    reg,
  )
  assert.equal(closed, 200)

  await school.context().setOffline(false)
  await school.locator('[data-save-state=denied]').waitFor({ timeout: 10000 })
  const box = school.locator('[data-refused] textarea')
  const refused = await box.inputValue()
  assert.ok(refused.startsWith('Doelen:\n'), refused)
  assert.ok(refused.includes('Dit kwam te laat.'), refused)
  assert.equal(await box.getAttribute('readonly'), '')
  await school.click('[data-refused] button')
  await school.locator('[data-refused]', { hasText: 'Gekopieerd.' }).waitFor()
  assert.equal(await school.evaluate(() => navigator.clipboard.readText()), refused)
  // Dropped here, so that it is not sent (and refused) again at every load.
  await school.waitForFunction(async (name) => !(await indexedDB.databases()).some((db) => db.name === name), copy, { timeout: 5000 })
  assert.equal(await goals(school).getAttribute('contenteditable'), 'false', 'nothing more to type that would be lost')

  await school.reload()
  await goals(school).waitFor()
  await saved(school)
  assert.ok(!(await textOf(school, 'goals')).includes('Dit kwam te laat.'))
  assert.ok(!(await storedGoals(school, reg)).includes('Dit kwam te laat.'))
  await clb.context().close()
  await school.context().close()
})

/** Waits until `check()` (sync or async) is true. */
async function waitFor(check, timeout = 5000) {
  const end = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${timeout} ms: ${check}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
