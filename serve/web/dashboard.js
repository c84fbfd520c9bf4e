'use strict';
// airlock's dashboard: the expiry countdown and the audit log's Verify
// button. Nothing else runs, nothing is sent anywhere but this service,
// and nothing here can change anything: the dashboard is read-only.
(function () {
  function span(s) {
    if (s <= 0) return 'expired';
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), x = s % 60;
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + x + 's';
  }

  // The time left is the coordinator's (data-left, seconds when the page
  // was rendered): only the time elapsed since is measured here, so a
  // browser's wrong clock cannot show a wrong countdown.
  function countdowns() {
    var els = document.querySelectorAll('[data-left]');
    if (!els.length) return;
    var start = performance.now();
    function tick() {
      var gone = (performance.now() - start) / 1000;
      els.forEach(function (e) {
        var left = Math.floor(Number(e.dataset.left) - gone);
        e.textContent = span(left);
        if (left <= 0) e.classList.add('expired');
      });
    }
    tick();
    setInterval(tick, 1000);
  }

  function verify() {
    var b = document.getElementById('verify');
    if (!b) return;
    var out = document.getElementById('verify-result');
    b.addEventListener('click', function () {
      b.disabled = true;
      out.className = '';
      out.textContent = 'Verifying…';
      delete out.dataset.verified;
      fetch(b.dataset.url, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
        .then(function (r) {
          if (!r.ok) throw new Error('the service answered ' + r.status);
          return r.json();
        })
        .then(function (v) {
          if (v.verified) {
            out.className = 'ok';
            out.textContent = 'Verified: ' + v.entries + ' entries, the tree recomputed from them; the checkpoint of ' +
              v.checkpoint_size + ' entries and its signature verify (' + v.entries_after_checkpoint + ' entries since); ' +
              'the state and the log agree. Root ' + v.root + ', at ' + v.verified_at +
              (v.reused ? ' (a verification less than 10 s old)' : '') + '.';
          } else {
            out.className = 'fail';
            out.textContent = 'NOT verified: ' + v.error;
          }
          out.dataset.verified = String(!!v.verified);
        })
        .catch(function (e) {
          out.className = 'fail';
          out.textContent = 'The verification could not be asked for: ' + e.message;
          out.dataset.verified = 'false';
        })
        .finally(function () { b.disabled = false; });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    countdowns();
    verify();
  });
})();
