/* The teacher's class view keeps its statuses current: it asks the tool's status endpoint (stored state only, never
 * the LMS) every few seconds, rewrites each changed status cell and summary number, and says what changed in the
 * page's aria-live region, so screen-reader users hear it too.
 *
 * Loaded by templates/teacher/link.html only; acts only if the page has #class-status. No inline script: the
 * tool's pages are served with script-src 'self'. Its sentences come from the page (data-msg-*), in the page's
 * language; the English here is only a fallback.
 */
(function () {
  "use strict";

  var POLL_MS = 5000;
  var GIVE_UP_AFTER_MS = 4 * 60 * 60 * 1000; // a launch lives 4 hours: after that the endpoint refuses anyway

  var section = document.getElementById("class-status");
  var live = document.getElementById("class-status-live");
  if (!section || !live || !section.dataset.statusUrl || !window.fetch) { return; }
  var startedAt = Date.now();
  var words = section.dataset;  // the page's language: the template puts the sentences here

  function rowFor(attempt) {
    return section.querySelector('tr[data-attempt="' + attempt.replace(/["\\]/g, "") + '"]');
  }

  function setStatusCell(row, item) {
    var cell = row.querySelector("[data-cell=status]");
    if (!cell) { return; }
    cell.textContent = item.label;
    if (item.detail) {
      cell.appendChild(document.createElement("br"));
      var detail = document.createElement("span");
      detail.className = "muted";
      detail.textContent = item.detail;
      cell.appendChild(detail);
    }
    row.dataset.state = item.status;
    // A grade the provider withdrew (or reset) may no longer be sent again: its button goes. A newly graded row
    // gets its button when the page is reloaded.
    var resend = row.querySelector("[data-testid=resend]");
    if (resend && item.can_resend === false) { resend.form.hidden = true; }
  }

  function updateCounts(counts) {
    Object.keys(counts).forEach(function (key) {
      if (key === "not_started") { return; } // the roster's number: only the page knows it
      var element = document.querySelector('[data-count="' + key + '"]');
      if (element) { element.textContent = String(counts[key]); }
    });
  }

  function apply(answer) {
    var changes = [];
    var unknown = 0;
    (answer.rows || []).forEach(function (item) {
      if (!item.attempt) { return; }
      var row = rowFor(item.attempt);
      if (!row) { unknown += 1; return; }
      if (row.dataset.state !== item.status) {
        setStatusCell(row, item);
        changes.push(item.name + ": " + item.label);
      }
    });
    updateCounts(answer.counts || {});
    if (unknown) {
      changes.push(words.msgMore || "More students have started. Reload the page to see them and their grades.");
    } else if (changes.length) { changes.push(words.msgReload || "Reload the page for the new grades."); }
    if (changes.length) { live.textContent = changes.join(". ").replace(/\.\./g, "."); }
  }

  function poll() {
    if (Date.now() - startedAt > GIVE_UP_AFTER_MS) { return; }
    window.fetch(section.dataset.statusUrl, {credentials: "omit", cache: "no-store"}).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        live.textContent = words.msgExpired ||
          "Statuses no longer update here: open the activity again from your course.";
        return null;
      }
      return response.ok ? response.json() : {};
    }).then(function (answer) {
      if (answer === null) { return; }
      apply(answer);
      window.setTimeout(poll, POLL_MS);
    }).catch(function () { window.setTimeout(poll, POLL_MS * 3); });
  }

  window.setTimeout(poll, POLL_MS);
})();
