// The one shared script of Gatehouse's pages: JSON calls with the API's error envelope (§1.3),
// the refresh-on-401 dance for pages that act as the signed-in user (cookies only: tokens are
// never read by or stored in the page), and small form helpers. Nothing is kept in
// localStorage or sessionStorage.
(function () {
  "use strict";

  var REFRESH = "/api/v1/token/refresh/";
  var UNREACHABLE = "The service could not be reached. Check your connection and try again.";
  var refreshing = null; // one refresh at a time for all calls of the page

  function $(id) { return document.getElementById(id); }

  // call sends a JSON request with the browser's cookies (same origin) and resolves to
  // {status, data}; a network failure resolves to {status: 0, data: {detail: UNREACHABLE}}.
  function call(method, url, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Accept": "application/json" }
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { status: res.status, data: data || {} };
      });
    }, function () {
      return { status: 0, data: { detail: UNREACHABLE, code: "unreachable" } };
    });
  }

  // refresh rotates the refresh cookie once for every caller waiting on it. A 409 means another
  // tab rotated it a moment ago: its new cookie is already in the jar, so that counts as done.
  function refresh() {
    if (!refreshing) {
      refreshing = call("POST", REFRESH).then(function (r) {
        refreshing = null;
        return r.status === 200 || r.status === 409;
      });
    }
    return refreshing;
  }

  // authed is call for endpoints that need the signed-in user: on a 401 it refreshes the
  // session once and repeats the request; when that fails too the user is sent to the sign-in
  // page, which brings them back here afterwards.
  function authed(method, url, body) {
    return call(method, url, body).then(function (r) {
      if (r.status !== 401) { return r; }
      return refresh().then(function (ok) {
        return ok ? call(method, url, body) : r;
      }).then(function (again) {
        if (again.status === 401) { toLogin(); }
        return again;
      });
    });
  }

  function toLogin() {
    window.location.assign("/login/?next=" + encodeURIComponent(window.location.pathname + window.location.search));
  }

  // safeNext is the ?next= of the page when it is a path of this site, else "". Browsers drop
  // tabs and line breaks from a URL, so "/\t/evil.example" would leave as "//evil.example": no
  // control character, space or backslash is accepted, and the parsed URL must stay on this origin.
  // Parsing also removes dot segments ("/.//evil.example/" has the path "//evil.example/"), and a
  // path that starts with two slashes would leave the site as a protocol-relative URL: refused.
  function safeNext() {
    var next = new URLSearchParams(window.location.search).get("next") || "";
    if (!/^\/(?![\/\\])/.test(next) || /[\u0000-\u0020\u007f\\]/.test(next)) { return ""; }
    var u;
    try { u = new URL(next, window.location.origin); } catch (e) { return ""; }
    if (u.origin !== window.location.origin || /^\/[\/\\]/.test(u.pathname)) { return ""; }
    return u.pathname + u.search + u.hash;
  }

  // message is one readable sentence for an error answer.
  function message(r) {
    var d = r.data || {};
    if (d.code === "invalid" && d.errors && d.errors.non_field_errors) { return d.errors.non_field_errors.join(" "); }
    if (d.detail && d.code !== "invalid") { return d.detail; }
    if (d.errors) {
      var all = [];
      Object.keys(d.errors).forEach(function (k) { all = all.concat(d.errors[k]); });
      if (all.length) { return all.join(" "); }
    }
    return d.detail || "Something went wrong. Please try again.";
  }

  function setStatus(el, text, kind) {
    el.textContent = text || "";
    el.className = "status" + (kind ? " " + kind : "");
  }

  function showErrors(list, messages) {
    list.textContent = "";
    (messages || []).forEach(function (m) {
      var li = document.createElement("li");
      li.textContent = m;
      list.appendChild(li);
    });
  }

  // fieldErrors shows the `errors` of an invalid answer next to their inputs: fields maps an API
  // field name to the id of its input (whose error list has the id "<input id>-errors"). Returns
  // the messages that belong to no shown field.
  function fieldErrors(fields, r) {
    var errors = (r.data && r.data.errors) || {};
    var rest = [];
    var first = null;
    Object.keys(fields).forEach(function (name) {
      var input = $(fields[name]);
      var list = $(fields[name] + "-errors");
      var msgs = errors[name];
      if (!input || input.closest("[hidden]")) {
        if (msgs) { rest = rest.concat(msgs); }
        return;
      }
      if (list) { showErrors(list, msgs); }
      if (msgs) {
        input.setAttribute("aria-invalid", "true");
        if (!first) { first = input; }
      } else {
        input.removeAttribute("aria-invalid");
      }
    });
    Object.keys(errors).forEach(function (name) {
      if (!fields[name]) { rest = rest.concat(errors[name]); }
    });
    if (first) { first.focus(); }
    return rest;
  }

  function clearFieldErrors(fields) { fieldErrors(fields, { data: {} }); }

  function ready(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  window.Gatehouse = {
    $: $,
    call: call,
    authed: authed,
    refresh: refresh,
    safeNext: safeNext,
    message: message,
    setStatus: setStatus,
    showErrors: showErrors,
    fieldErrors: fieldErrors,
    clearFieldErrors: clearFieldErrors,
    ready: ready
  };
})();
