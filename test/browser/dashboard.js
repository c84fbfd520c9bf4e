'use strict';
// The dashboard of 'airlock serve' in Chromium (serve/browser_test.go):
// a proposal's intent, flags and approvals; the count after a hand-in the
// Go test makes; the audit log's Verify button. Screenshots go to
// args.out. Nothing but the service's origin may be requested.
const path = require('path');
const { launch, guard, watch, say, waitFor, check, run } = require('./lib');

run(async (args) => {
  const { url, id, intent, flag, rationale, out } = args;
  const origin = new URL(url).origin;
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const outside = await guard(context, (u) => new URL(u).origin === origin);
    const page = await context.newPage();
    const problems = [];
    watch(page, problems);
    const shot = (name) => page.screenshot({ path: path.join(out, name), fullPage: true });
    const text = async (sel) => (await page.locator(sel).innerText()).trim();

    await page.goto(url + '/');
    const row = page.locator(`tr[data-id="${id}"]`);
    check(await row.count() === 1, 'the front page does not list the proposal');
    check((await row.locator('.tally').innerText()).trim() === '0 of 2', 'the front page\'s tally is not 0 of 2');
    check((await row.locator('.intent').innerText()).trim() === intent, 'the front page does not show the intent');
    await shot('dashboard-front.png');
    say('STEP front page lists the proposal, 0 of 2');

    await row.locator('a[href^="/proposals/"]').click();
    await page.waitForURL(`**/proposals/${id}`);
    check(await text('#intent') === intent, `intent: ${await text('#intent')}`);
    const flags = await text('#flags');
    check(flags.includes(flag), `no flag ${flag} in: ${flags}`);
    check(await text('#tally') === '0 of 2', `tally: ${await text('#tally')}`);
    check((await text('#waiting-for')).includes('alice'), 'alice is not waited for');
    check(await text('#verdict-text') === 'allowed', 'no verdict');
    // The countdown runs: the script loaded under the CSP.
    const before = await text('#countdown');
    check(/^\d+d \d+h \d+m \d+s$|^\d+h \d+m \d+s$/.test(before), `countdown: ${before}`);
    await page.waitForFunction((b) => document.querySelector('#countdown').textContent.trim() !== b, before, { timeout: 5000 });
    await shot('dashboard-proposal-before.png');
    say('STEP proposal shows intent, flags, verdict, 0 of 2, a running countdown');

    say('HANDIN');
    await waitFor('GO');
    await page.reload();
    check(await text('#tally') === '1 of 2', `after the hand-in the tally is ${await text('#tally')}`);
    check((await text('#decisions')).includes(rationale), 'the approval\'s rationale is not shown');
    check(!(await text('#waiting-for')).includes('alice'), 'alice is still waited for');
    await shot('dashboard-proposal-after.png');
    say('STEP after the hand-in: 1 of 2 with the rationale');

    await page.locator('a[href="/audit"]').first().click();
    await page.waitForURL('**/audit');
    await page.locator('#verify').click();
    await page.waitForSelector('#verify-result[data-verified]', { timeout: 30000 });
    const verified = await page.locator('#verify-result').getAttribute('data-verified');
    const result = await text('#verify-result');
    check(verified === 'true' && result.startsWith('Verified:'), `verify: ${result}`);
    await shot('dashboard-audit-verified.png');
    say('STEP audit verify reports success');

    await page.goto(url + '/vaults/ops');
    check(await text('#balance') === 'no node configured', 'the vault page\'s balance');
    await shot('dashboard-vault.png');

    check(outside.length === 0, 'requests outside the service: ' + outside.join(', '));
    check(problems.length === 0, 'problems: ' + problems.join('; '));

    // What the CSP refuses: an inline script a page injection would add.
    const probe = await page.evaluate(() => new Promise((resolve) => {
      document.addEventListener('securitypolicyviolation', (e) => resolve('refused: ' + e.violatedDirective));
      const s = document.createElement('script');
      s.textContent = 'window.__injected = true';
      document.head.appendChild(s);
      setTimeout(() => resolve(window.__injected ? 'ran' : 'not run, no violation reported'), 2000);
    }));
    check(probe.startsWith('refused: script-src'), 'an injected inline script: ' + probe);
    say('DONE requests-outside=0');
  } finally {
    await browser.close();
  }
});
