'use strict';
// What the browser scripts share: Debian's Chromium launched through
// playwright-core (no browser of playwright's own), a guard that refuses
// and counts every request outside what a page may load, and the line
// protocol with the Go test (stdout: one line per step; stdin: the test's
// go-aheads).
const { chromium } = require('playwright-core');
const readline = require('readline');

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

async function launch() {
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

// guard aborts every request allowed() refuses, and keeps it in the list
// it returns: a page that tries to reach anything else is a failure.
async function guard(context, allowed) {
  const outside = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (allowed(url)) return route.continue();
    if (!outside.includes(url)) outside.push(url);
    return route.abort('blockedbyclient');
  });
  context.on('request', (r) => {
    if (!allowed(r.url()) && !outside.includes(r.url())) outside.push(r.url());
  });
  return outside;
}

// watch keeps what goes wrong in a page: script errors, console errors
// (a CSP violation is one), failed responses.
function watch(page, problems) {
  page.on('pageerror', (e) => problems.push('script error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(r.status() + ' ' + r.url()); });
}

function say(line) { process.stdout.write(line + '\n'); }

const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

// waitFor waits for the Go test's go-ahead.
async function waitFor(word) {
  const { value, done } = await input.next();
  if (done || value.trim() !== word) throw new Error(`expected ${word} from the test, got ${done ? 'the end of its input' : JSON.stringify(value)}`);
}

function check(ok, what) {
  if (!ok) throw new Error(what);
}

// run runs main with the JSON argument and reports its failure as a line
// the test shows ("FAIL ...") and exit code 1.
function run(main) {
  const args = JSON.parse(process.argv[2] || '{}');
  main(args).then(() => process.exit(0), (e) => {
    say('FAIL ' + String(e && e.message || e).replace(/\s+/g, ' '));
    console.error(e && e.stack || e);
    process.exit(1);
  });
}

module.exports = { launch, guard, watch, say, waitFor, check, run };
