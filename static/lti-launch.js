/* Ties an LTI launch to this browser when the tool's cookie cannot (a browser that blocks third-party cookies):
 * platform storage (1EdTech LTI client-side postMessages: lti.capabilities, lti.put_data, lti.get_data), and,
 * when neither works, a new window opened before the platform's single-use lti_message_hint is spent.
 *
 * Loaded by every page (templates/base.html); each part acts only on its own page. No inline script anywhere:
 * the login and launch pages are served with script-src 'self'.
 */
(function () {
  "use strict";

  var ANSWER_TIMEOUT_MS = 2000; // a platform without storage never answers: fall back quickly
  var CAPABILITIES_RESEND_MS = 250; // the handshake is idempotent: repeat it until the platform's frame answers
  var OPENED_MESSAGE = "lti-tool:opened-in-window";

  function messageId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return "lti-tool-" + Array.prototype.map.call(bytes, function (b) { return b.toString(16); }).join("");
  }

  function frameNamed(name) {
    if (window.parent === window) { return null; } // top level: there is no platform frame to talk to
    if (name === "_parent") { return window.parent; }
    try { return window.parent.frames[name] || null; } catch (error) { return null; }
  }

  /* One request, one answer: the answer must come from the platform's origin, carry our message id and the
     response subject; anything else is ignored. Rejects on an error answer or after the timeout. */
  function ask(frame, origin, message, resendMs) {
    return new Promise(function (resolve, reject) {
      var id = messageId();
      var timer = window.setTimeout(function () { stop(); reject(new Error(message.subject + ": no answer")); },
                                    ANSWER_TIMEOUT_MS);
      // The platform's frame may still be loading: a message sent before its listener exists is lost.
      var again = resendMs ? window.setInterval(send, resendMs) : null;
      function stop() {
        window.clearTimeout(timer);
        if (again) { window.clearInterval(again); }
        window.removeEventListener("message", onMessage);
      }
      function onMessage(event) {
        var data = event.data;
        if (event.origin !== origin || !data || typeof data !== "object" || data.message_id !== id ||
            data.subject !== message.subject + ".response") { return; }
        stop();
        if (data.error) { reject(new Error(message.subject + ": " + (data.error.code || "error"))); }
        else { resolve(data); }
      }
      var request = {message_id: id};
      Object.keys(message).forEach(function (name) { request[name] = message[name]; });
      function send() { frame.postMessage(request, origin); } // only the platform's origin may receive it
      window.addEventListener("message", onMessage);
      send();
    });
  }

  /* The platform's storage, after the capabilities handshake; rejects when the platform offers none. */
  function platformStorage(target, origin) {
    var frame = frameNamed(target);
    if (!frame || !origin) { return Promise.reject(new Error("no platform storage frame")); }
    return ask(frame, origin, {subject: "lti.capabilities"}, CAPABILITIES_RESEND_MS).then(function (answer) {
      var frames = {};
      (answer.supported_messages || []).forEach(function (entry) {
        if (entry && entry.subject) { frames[entry.subject] = entry.frame ? frameNamed(entry.frame) : frame; }
      });
      if (!frames["lti.put_data"] || !frames["lti.get_data"]) { throw new Error("platform storage not offered"); }
      return {
        put: function (key, value) {
          return ask(frames["lti.put_data"], origin, {subject: "lti.put_data", key: key, value: value});
        },
        get: function (key) {
          return ask(frames["lti.get_data"], origin, {subject: "lti.get_data", key: key}).then(function (data) {
            if (data.key !== key || typeof data.value !== "string" || !data.value) { throw new Error("not stored"); }
            return data.value;
          });
        }
      };
    });
  }

  function show(id, text) {
    var element = document.getElementById(id);
    if (!element) { return; }
    if (text !== undefined) { element.textContent = text; }
    element.hidden = false;
  }

  function hide(id) {
    var element = document.getElementById(id);
    if (element) { element.hidden = true; }
  }

  /* Nothing can tie the launch to this frame: offer the new window, and say where the test is once it opened. */
  function offerNewWindow() {
    hide("lti-progress");
    show("lti-new-window");
    // The page's language: the template puts the sentences on the box (data-msg-*).
    var box = document.getElementById("lti-opened-elsewhere");
    var words = box ? box.dataset : {};
    window.addEventListener("message", function (event) {
      var data = event.data;
      if (event.origin !== window.location.origin || !data || data.type !== OPENED_MESSAGE) { return; }
      hide("lti-new-window");
      var title = typeof data.title === "string" ? data.title.trim() : "";
      show("lti-opened-elsewhere", title
        ? (words.msgOpenedTitled || "Your test is open in another window or tab (“{title}”). Switch to it to " +
           "continue; you can leave this page.").split("{title}").join(title)
        : words.msgOpened || "Your test is open in another window or tab. Switch to it to continue; you can " +
          "leave this page.");
    });
    var button = document.getElementById("lti-new-window-button");
    if (button) {
      button.addEventListener("click", function () {
        show("lti-opened-elsewhere", words.msgOpening || "The test is opening in a new window or tab…");
      });
    }
  }

  /* The login page: store state and nonce in the platform if it offers storage, else check that the cookie
     comes back; go on to the platform only if one of them will let the launch through. */
  function login(element) {
    var data = element.dataset;
    function proceed() { window.location.replace(data.authUrl); }
    function cookieComesBack() {
      return window.fetch(data.cookieCheckUrl, {credentials: "include", cache: "no-store"})
        .then(function (response) { return response.json(); })
        .then(function (answer) { if (!answer.cookie) { throw new Error("cookie refused"); } });
    }
    var stored = data.storageTarget
      ? platformStorage(data.storageTarget, data.platformOrigin).then(function (storage) {
          return storage.put(data.stateKey, data.state).then(function () { return storage.put(data.nonceKey, data.nonce); });
        })
      : Promise.reject(new Error("no platform storage"));
    stored.catch(cookieComesBack).then(proceed, offerNewWindow);
  }

  /* The launch page (the cookie did not come back): read the state and nonce back and post them to the tool. */
  function launch(element) {
    var data = element.dataset;
    var form = document.getElementById("lti-storage-form");
    platformStorage(data.storageTarget, data.platformOrigin).then(function (storage) {
      return Promise.all([storage.get(data.stateKey), storage.get(data.nonceKey)]);
    }).then(function (values) {
      form.elements.stored_state.value = values[0];
      form.elements.stored_nonce.value = values[1];
      form.submit();
    }).catch(offerNewWindow);
  }

  /* A launched page in the window the frame opened: tell that frame (same origin only) where the test is. */
  function tellTheOpener() {
    var opener = window.opener;
    if (!opener || opener === window || window.top !== window) { return; }
    if (document.querySelector("[data-testid=launch-error]")) { return; }
    var heading = document.querySelector("h1");
    try {
      opener.postMessage({type: OPENED_MESSAGE, title: heading ? heading.textContent : document.title},
                         window.location.origin);
    } catch (error) { /* the opener went elsewhere */ }
  }

  var loginElement = document.getElementById("lti-login");
  var launchElement = document.getElementById("lti-storage-launch");
  var resubmitForm = document.getElementById("lti-resubmit");
  if (loginElement) { login(loginElement); }
  else if (launchElement) { launch(launchElement); }
  else if (resubmitForm) { resubmitForm.submit(); } // same origin now: the browser sends the tool's cookie
  else { tellTheOpener(); }
})();
