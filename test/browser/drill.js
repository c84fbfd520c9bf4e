'use strict';
// The drill reports in Chromium (drill/chromium_test.go): the report of
// 'airlock drill run' (args.kind "run") shows its SVG plots with the fault
// windows shaded and its verdict table with every invariant held; the
// after-action report of 'airlock drill tabletop' (kind "tabletop") shows
// its verdict, a rating per capability and the task checks. Neither may
// request anything beyond its own file. A screenshot goes to args.out.
const path = require('path');
const { pathToFileURL } = require('url');
const { launch, guard, watch, say, check, run } = require('./lib');

async function visible(locator, what, minW, minH) {
  const n = await locator.count();
  for (let i = 0; i < n; i++) {
    const el = locator.nth(i);
    check(await el.isVisible(), `${what} ${i + 1} is not visible`);
    const box = await el.boundingBox();
    check(box && box.width >= minW && box.height >= minH, `${what} ${i + 1} renders ${box ? box.width + 'x' + box.height : 'no box'}`);
  }
  return n;
}

async function runReport(page, args) {
  const verdict = (await page.locator('.verdict').first().innerText()).trim();
  check(verdict.startsWith('PASSED'), `verdict: ${verdict}`);
  const plots = await visible(page.locator('svg'), 'plot', 400, 100);
  check(plots >= args.plots, `${plots} plots, want ${args.plots}`);
  // Fault windows: shaded rectangles inside the plots, painted.
  const shades = page.locator('svg rect.fault');
  const n = await visible(shades, 'fault window', 1, 50);
  check(n >= args.windows, `${n} shaded fault windows, want at least ${args.windows}`);
  const paint = await shades.first().evaluate((el) => {
    const s = getComputedStyle(el);
    return { fill: s.fill, opacity: Number(s.fillOpacity) * Number(s.opacity) };
  });
  check(paint.fill !== 'none' && paint.opacity > 0, `fault windows are not painted: ${JSON.stringify(paint)}`);
  // The verdict table: one row per invariant, each held.
  const table = page.locator('table', { has: page.locator('th', { hasText: /^Invariant$/ }) });
  check(await table.count() === 1, 'no invariants table');
  const rows = table.locator('tr:has(td)');
  const names = await rows.locator('td:first-child small').allInnerTexts();
  const verdicts = (await rows.locator('td:last-child').allInnerTexts()).map((s) => s.trim());
  for (const want of args.invariants) check(names.includes(want), `no row for invariant ${want}; rows: ${names.join(', ')}`);
  check(names.length === args.invariants.length, `${names.length} invariant rows, want ${args.invariants.length}`);
  check(verdicts.every((v) => v === 'held'), 'verdicts: ' + verdicts.join(', '));
  await visible(table, 'invariants table', 300, 40);
  return `plots=${plots} fault-windows=${n} invariants=${names.length}`;
}

async function tabletopReport(page, args) {
  const verdict = (await page.locator('#verdict').innerText()).trim();
  check(verdict === args.verdict, `verdict: ${verdict}`);
  const rows = page.locator('#ratings tr:has(td)');
  const n = await rows.count();
  check(n === args.capabilities.length, `${n} capability rows, want ${args.capabilities.length}`);
  for (let i = 0; i < n; i++) {
    const cells = await rows.nth(i).locator('td').allInnerTexts();
    const want = args.capabilities[i];
    check(cells[0].includes(want.name), `row ${i + 1}: ${cells[0]}, want ${want.name}`);
    check(cells[4].trim().startsWith(want.rating), `${want.name}: rated ${cells[4]}, want ${want.rating}`);
  }
  await visible(page.locator('#ratings'), 'ratings table', 300, 40);
  const tasks = await page.locator('table.tasks tr:has(td) td:nth-child(3)').allInnerTexts();
  check(tasks.length === args.tasks, `${tasks.length} task rows, want ${args.tasks}`);
  const modules = await page.locator('h2[id^="module-"]').count();
  check(modules === args.modules, `${modules} modules, want ${args.modules}`);
  return `capabilities=${n} tasks=${tasks.length} modules=${modules}`;
}

run(async (args) => {
  const { file, out, kind } = args;
  const self = pathToFileURL(file).href;
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const outside = await guard(context, (u) => u === self);
    const page = await context.newPage();
    const problems = [];
    watch(page, problems);
    await page.goto(self);
    const summary = kind === 'run' ? await runReport(page, args) : await tabletopReport(page, args);
    await page.screenshot({ path: path.join(out, `drill-${kind}.png`), fullPage: true });
    check(outside.length === 0, 'requests beyond the report: ' + outside.join(', '));
    check(problems.length === 0, 'problems: ' + problems.join('; '));
    say(`DONE ${summary} requests-outside=0`);
  } finally {
    await browser.close();
  }
});
