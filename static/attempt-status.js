/* The learner's status box (templates/lti/_attempt_status.html): asks the tool where the attempt stands and says
 * it in words, announced by aria-live. The tool's answer, never the provider's page, decides what is shown.
 *
 * data-poll="always": the outcome may arrive any time (a test ticket, a completed attempt waiting for grading).
 * data-poll="completion": an embedded test; polling starts when the provider's page says it is done, or when the
 * learner opens the test in a new window. An expired launch (401/410) shows the tool's sentence and stops.
 */
(function () {
  "use strict";

  var box = document.getElementById("attempt-status");
  if (!box || !box.dataset.statusUrl) { return; }
  var FAST_MS = 3000;
  var SLOW_MS = 15000;
  var FINAL = {graded: true, withdrawn: true, refused: true, expired: true};
  var polling = false;
  var last = box.textContent;
  // The live region is in the accessibility tree from the start, empty and collapsed by the stylesheet: a region
  // that appears together with its first message is not announced by screen readers.
  box.hidden = false;

  function show(text) {
    if (text && text !== last) { box.textContent = text; last = text; }
  }

  // A page with its own score line (the completed page) keeps the score there, up to date, instead of saying it a
  // second time in the status box; and hides it when the score is gone (a result withdrawn while the page is open).
  var ownScore = document.querySelector("[data-testid=own-score]");

  function describe(status) {
    var text = status.message || "";
    var score = status.score && status.score.text ? status.score : null;
    if (ownScore) {
      if (score) { ownScore.textContent = score.text; }
      ownScore.parentElement.hidden = !score;
    } else if (score && score.sentence) {
      text += " " + score.sentence;
    }
    return text;
  }

  function settle(status) {
    if (!status.submitted) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("[data-hide-when-done]"), function (element) {
      element.hidden = true;
    });
  }

  function poll(delay) {
    window.fetch(box.dataset.statusUrl, {credentials: "omit", cache: "no-store"}).then(function (response) {
      return response.json().then(function (status) { return {code: response.status, status: status}; });
    }).then(function (answer) {
      if (answer.code === 401 || answer.code === 410) { show(answer.status.message); return; }
      var status = answer.status;
      if (status.submitted) { show(describe(status)); settle(status); }
      if (!FINAL[status.state]) { window.setTimeout(function () { poll(SLOW_MS); }, delay); }
    }).catch(function () { window.setTimeout(function () { poll(SLOW_MS); }, SLOW_MS); });
  }

  function start(message) {
    if (message) { show(message); }
    if (polling) { return; }
    polling = true;
    poll(FAST_MS);
  }

  if (box.dataset.poll === "always") { start(""); return; }
  var origin = box.dataset.providerOrigin;
  var completion = box.dataset.completionMessage;
  window.addEventListener("message", function (event) {
    if (!completion || event.origin !== origin || event.data !== completion) { return; }
    start(box.dataset.msgChecking || "Checking your submission…");
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-opens-test]"), function (link) {
    link.addEventListener("click", function () {
      start(box.dataset.msgNewWindow || "The test is open in a new window. This page shows your result when it arrives.");
    });
  });
})();

/* Before a test that records the learner: check the microphone here, and say how to fix a blocked one. */
(function () {
  "use strict";

  var row = document.querySelector("[data-mic-check]");
  if (!row || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  var button = row.querySelector("button");
  var result = row.querySelector("[role=status]");
  var words = row.dataset;  // the page's language: the template puts the sentences here
  row.hidden = false;
  button.addEventListener("click", function () {
    result.textContent = words.msgChecking || "Checking…";
    navigator.mediaDevices.getUserMedia({audio: true}).then(function (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      result.textContent = words.msgWorks || "Your microphone works.";
    }).catch(function (error) {
      var blocked = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      result.textContent = blocked
        ? (words.msgBlocked || "The browser blocks the microphone here. Allow it in the address bar's site " +
          "settings (the lock or camera icon), or open the test in a new window with the link above.")
        : (words.msgMissing || "No microphone was found. Plug one in, or choose it in your system's sound " +
          "settings, then try again.");
    });
  });
})();
