'use strict';
// The auditor's HTML report ('airlock audit report', evidence/) in
// Chromium (evidence/browser_test.go): it renders, shows the verdict and
// the control table, and requests nothing at all beyond its own file.
// A screenshot goes to args.out.
const path = require('path');
const { pathToFileURL } = require('url');
const { launch, guard, watch, say, check, run } = require('./lib');

run(async (args) => {
  const { file, out, headings } = args;
  const self = pathToFileURL(file).href;
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const outside = await guard(context, (u) => u === self);
    const page = await context.newPage();
    const problems = [];
    watch(page, problems);
    await page.goto(self);
    const verdict = (await page.locator('#verdict').innerText()).trim();
    check(verdict === 'the bundle verifies', `verdict: ${verdict}`);
    const h2 = (await page.locator('h2').allInnerTexts()).map((s) => s.trim());
    for (const h of headings) check(h2.includes(h), `no section ${h}; sections: ${h2.join(' | ')}`);
    // The control table: the CCSS 1.10 section's findings, every one ok.
    const rows = page.locator('h2[id="ccss-1.10"] + p + table tr');
    const n = await rows.count();
    check(n > 1, 'the audit-log control has no table');
    const cells = await page.locator('h2[id="ccss-1.10"] + p + table td:nth-child(2)').allInnerTexts();
    check(cells.length > 0 && cells.every((c) => c.trim() === 'ok'), 'control 1.10: ' + cells.join(','));
    const box = await page.locator('table').first().boundingBox();
    check(box && box.width > 300 && box.height > 20, 'the summary table does not render');
    await page.screenshot({ path: path.join(out, 'evidence-report.png'), fullPage: true });
    check(outside.length === 0, 'requests beyond the report: ' + outside.join(', '));
    check(problems.length === 0, 'problems: ' + problems.join('; '));
    say(`DONE sections=${h2.length} control-rows=${n - 1} requests-outside=0`);
  } finally {
    await browser.close();
  }
});
