// Drives Debian's headless Chromium (playwright-core, /usr/bin/chromium) over the QC station page
// for tests/web.rs. The test, not this script, judges: the script only reports what the page
// shows. Reads one JSON job from stdin:
//   { "base": "http://127.0.0.1:PORT/", "token": "..."|null, "artifacts": "/abs/dir",
//     "chromium": "/usr/bin/chromium",
//     "steps": [ { "name": "c1", "hash": "#/v/12", "wait": "CSS selector", "keys": true },
//                { "name": "batch", "hash": "#/batch/3", "wait": "...", "then": {"press": "n", "wait": "..."} },
//                { "name": "live", "hash": "#/live", "live": true } ] }
// and writes one JSON line per step to stdout:
//   { "step", "marks": [[item, col, causes]], "not_checked": [...], "status", "banner",
//     "counts" and "hash_after" (steps with "then"),
//     "images": {"total", "loaded"}, "fonts": [{familyName, glyphCount}], "keys": {...},
//     "screenshot", "errors": [...] }
// A live step first writes {"step", "ready": true} once the page is connected to the event
// stream, then waits for the test to start a verification and reports the live states it saw
// and the verification it shows. Every request that is not to the base origin is aborted and
// reported in "errors" (the browser has no network beyond loopback anyway:
// --host-resolver-rules maps every other name to nothing, and there is no proxy).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

function out(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function main() {
  const job = await readStdin();
  const base = new URL(job.base);
  const origin = base.origin;
  fs.mkdirSync(job.artifacts, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'idcheck-chromium-'));
  const errors = [];
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: job.chromium || '/usr/bin/chromium',
      headless: true,
      chromiumSandbox: false,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-proxy-server', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost',
        '--lang=zh-CN',
      ],
      viewport: { width: 1600, height: 1000 },
      deviceScaleFactor: 1,
      locale: 'zh-CN',
      timeout: 60000,
    });
    context.setDefaultTimeout(20000);
    await context.route('**/*', (route) => {
      const u = route.request().url();
      let ok = false;
      try { ok = u.startsWith('data:') || new URL(u).origin === origin; } catch (e) { ok = false; }
      if (ok) return route.continue();
      errors.push('request outside the station: ' + u);
      return route.abort('blockedbyclient');
    });
    const page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
    page.on('response', (r) => { if (r.status() >= 400) errors.push('HTTP ' + r.status() + ' ' + r.url()); });

    if (job.token) {
      // the daemon's login: sets the HttpOnly cookie the page's own requests then carry
      const login = new URL('ui/login?token=' + encodeURIComponent(job.token), base).toString();
      const r = await page.goto(login, { waitUntil: 'load' });
      if (!r || !r.ok()) throw new Error('login answered ' + (r ? r.status() : 'nothing'));
    }

    const cdp = await context.newCDPSession(page);
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');

    for (const step of job.steps) {
      const before = errors.length;
      const res = { step: step.name };
      try {
        // a fresh document per step: nothing of the previous step's page can satisfy the waits
        await page.goto('about:blank');
        await page.goto(new URL(step.hash, base).toString(), { waitUntil: 'load' });
        if (step.live) await liveStep(page, step, res);
        await page.waitForSelector(step.wait || 'main[data-ready]', { state: 'attached' });
        if (step.then) {
          // what the page shows first (a batch's counts), then a key press and where it leads
          res.counts = await counts(page);
          const shot = path.join(job.artifacts, step.name + '-before.png');
          await page.screenshot({ path: shot, fullPage: true });
          res.screenshot_before = shot;
          await page.keyboard.press(step.then.press);
          await page.waitForSelector(step.then.wait, { state: 'attached' });
          res.hash_after = await page.evaluate(() => location.hash);
        }
        await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
        Object.assign(res, await page.evaluate(() => {
          const marks = Array.from(document.querySelectorAll('[data-cause]')).map((e) =>
            [e.getAttribute('data-item'), e.getAttribute('data-col'), e.getAttribute('data-cause')]);
          const nc = Array.from(document.querySelectorAll('[data-not-checked]')).map((e) =>
            [e.getAttribute('data-item') || e.getAttribute('data-col-head') || '', e.getAttribute('data-col') || e.getAttribute('data-col-head') || '', e.getAttribute('data-not-checked')]);
          const banner = document.querySelector('.banner');
          const imgs = Array.from(document.querySelectorAll('main img'));
          return {
            marks,
            not_checked: nc,
            status: banner ? banner.getAttribute('data-status') : null,
            banner: banner ? banner.innerText : null,
            images: { total: imgs.length, loaded: imgs.filter((i) => i.naturalWidth > 0).length },
            findings: document.querySelectorAll('.findings li').length,
            not_compared: document.querySelector('[data-not-compared]') !== null,
            chip_unauthenticated: document.querySelector('th[data-col-head="chip"][data-unauthenticated]') !== null,
          };
        }));
        res.fonts = await fontsOf(cdp, step.cjk || 'td.value[lang="zh-Hans"], .banner .status span[lang="zh-Hans"]');
        if (step.keys) res.keys = await keyboard(page);
        const shot = path.join(job.artifacts, step.name + '.png');
        await page.screenshot({ path: shot, fullPage: true });
        res.screenshot = shot;
      } catch (e) {
        errors.push(step.name + ': ' + (e && e.message ? e.message.split('\n')[0] : String(e)));
        try {
          const shot = path.join(job.artifacts, step.name + '-failed.png');
          await page.screenshot({ path: shot, fullPage: true });
          res.screenshot = shot;
        } catch (e2) { /* nothing more to show */ }
      }
      res.errors = errors.slice(before);
      out(res);
    }
  } catch (e) {
    errors.push('driver: ' + (e && e.message ? e.message.split('\n')[0] : String(e)));
    out({ step: 'driver', errors });
    process.exitCode = 1;
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

// The numbers of a batch's count tiles: { total: 2, pass: 1, ... }.
async function counts(page) {
  return page.evaluate(() => {
    const c = {};
    document.querySelectorAll('[data-count]').forEach((e) => {
      const n = e.querySelector('.n');
      c[e.getAttribute('data-count')] = n ? Number(n.textContent) : null;
    });
    return c;
  });
}

// The platform fonts Chromium used for the first node matching `selector` (CDP): proves the CJK
// text is drawn with a real CJK font, not boxes.
async function fontsOf(cdp, selector) {
  const doc = await cdp.send('DOM.getDocument', { depth: 0 });
  const q = await cdp.send('DOM.querySelector', { nodeId: doc.root.nodeId, selector });
  if (!q.nodeId) return [];
  const f = await cdp.send('CSS.getPlatformFontsForNode', { nodeId: q.nodeId });
  return f.fonts || [];
}

// Keyboard: Tab reaches a focusable element whose focus is visible (an outline), "?" opens the
// help, "f" focuses the first finding's link (when there are findings).
async function keyboard(page) {
  const r = {};
  await page.focus('main');
  await page.keyboard.press('Tab');
  r.tab = await page.evaluate(() => {
    const a = document.activeElement;
    const cs = a ? getComputedStyle(a) : null;
    return a ? { tag: a.tagName, outline: cs.outlineStyle + ' ' + cs.outlineWidth } : null;
  });
  await page.keyboard.press('?');
  r.help_open = await page.evaluate(() => !document.getElementById('help').hidden);
  await page.keyboard.press('Escape');
  r.help_closed = await page.evaluate(() => document.getElementById('help').hidden);
  await page.keyboard.press('f');
  r.f_focus = await page.evaluate(() => {
    const a = document.activeElement;
    return a ? (a.className || a.tagName) : null;
  });
  return r;
}

// #/live: waits until the page is connected (hello received), says so, records every live state
// the page shows, and waits for the verdict of a verification the test starts.
async function liveStep(page, step, res) {
  await page.waitForSelector('.live-state[data-live-state="idle"]', { state: 'attached' });
  await page.waitForSelector('.live-verdict[data-initial="done"]', { state: 'attached' });
  const shownBefore = await page.evaluate(() => {
    const s = [];
    window.__liveStates = s;
    const el = document.querySelector('.live-state');
    s.push(el.getAttribute('data-live-state') + ': ' + el.textContent);
    new MutationObserver(() => s.push(el.getAttribute('data-live-state') + ': ' + el.textContent))
      .observe(el, { attributes: true, childList: true, characterData: true, subtree: true });
    const box = document.querySelector('.live-verdict');
    return box ? box.getAttribute('data-shown') : null;
  });
  out({ step: step.name, ready: true });
  await page.waitForFunction((before) => {
    const box = document.querySelector('.live-verdict');
    const shown = box && box.getAttribute('data-shown');
    return shown && shown !== before && box.querySelector('article.verdict[data-verification="' + shown + '"]');
  }, shownBefore, { timeout: step.timeout_ms || 60000 });
  res.live_states = await page.evaluate(() => window.__liveStates);
  res.shown = await page.evaluate(() => document.querySelector('.live-verdict').getAttribute('data-shown'));
}

main();
