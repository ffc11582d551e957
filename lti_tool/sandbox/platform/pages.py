"""The few HTML pages the emulated LMS shows a browser (kept tiny; FormBrowser understands them)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from lti_tool.sandbox.platform.launch import AuthorizationResult


def _page(title: str, body: str, onload: str = "") -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body{onload}>{body}</body></html>")


def autosubmit_form(result: AuthorizationResult) -> str:
    """The OIDC form_post response: browsers submit it on load, FormBrowser on data-autosubmit."""
    fields = "".join(f"<input type='hidden' name='{escape(name)}' value='{escape(value)}'>"
                     for name, value in result.fields().items())
    form = (f"<form id='lti-autosubmit' data-autosubmit method='post' action='{escape(result.redirect_uri)}'>"
            f"{fields}<noscript><button type='submit'>Continue</button></noscript></form>")
    return _page("Launching tool", form, " onload='document.forms[0].submit()'")


def storage_frame(tool_origins: list[str]) -> str:
    """Canvas's ``post_message_forwarding`` frame: platform storage for the tool frame beside it.

    It answers lti.capabilities, lti.put_data and lti.get_data, only from the registered tools' origins, and keeps
    each origin's values apart (one tool can never read another's). Values live as long as the course page.
    """
    script = STORAGE_FRAME_SCRIPT.replace("ALLOWED_ORIGINS", json.dumps(tool_origins).replace("<", "\\u003c"))
    return _page("Platform storage", f"<script>{script}</script>")


STORAGE_FRAME_SCRIPT = """
(function () {
  var allowed = ALLOWED_ORIGINS, stores = {};
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (allowed.indexOf(event.origin) < 0 || !data || typeof data !== "object" || !data.subject) { return; }
    var store = stores[event.origin] = stores[event.origin] || {};
    var answer = {subject: data.subject + ".response", message_id: data.message_id};
    if (data.subject === "lti.capabilities") {
      answer.supported_messages = [{subject: "lti.capabilities"}, {subject: "lti.put_data"},
                                   {subject: "lti.get_data"}];
    } else if (data.subject === "lti.put_data" && typeof data.key === "string") {
      store[data.key] = data.value; answer.key = data.key; answer.value = data.value;
    } else if (data.subject === "lti.get_data" && typeof data.key === "string") {
      answer.key = data.key;
      if (Object.prototype.hasOwnProperty.call(store, data.key)) { answer.value = store[data.key]; }
      else { answer.error = {code: "not_found", message: "no value stored under " + data.key}; }
    } else {
      answer.error = {code: "unsupported_subject", message: "unsupported " + data.subject};
    }
    event.source.postMessage(answer, event.origin);
  });
})();
"""


def deep_link_summary(result: dict[str, Any]) -> str:
    rows = "".join(
        f"<li data-resource-link-id='{escape(item['resource_link_id'])}'>{escape(item['title'])}"
        f"{' (graded, line item ' + escape(item['lineitem_id']) + ')' if item['lineitem_id'] else ''}</li>"
        for item in result["created"])
    message = f"<p class='msg'>{escape(str(result['msg']))}</p>" if result.get("msg") else ""
    return _page("Content added", f"<h1>Content added to {escape(result['context_id'])}</h1>{message}"
                                  f"<ul id='added'>{rows}</ul>")


def return_page(context_id: str) -> str:
    return _page("Back in the course", f"<h1>Back in course {escape(context_id)}</h1>")


def index_page(tools: list[tuple[str, str]], contexts: list[tuple[str, str]]) -> str:
    tool_rows = "".join(f"<li>{escape(name)} <code>{escape(cid)}</code></li>" for cid, name in tools)
    course_rows = "".join(f"<li>{escape(title)} <code>{escape(cid)}</code></li>" for cid, title in contexts)
    return _page("LTI platform emulator", f"<h1>LTI platform emulator</h1><h2>Tools</h2><ul>{tool_rows}</ul>"
                                          f"<h2>Courses</h2><ul>{course_rows}</ul>")
