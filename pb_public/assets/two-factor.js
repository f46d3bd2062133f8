// The two-step verification setup page (/two-factor/), for a signed-in staff user (cookies):
// password + method → POST 2fa/enable (start) → the QR code (the API's qr_code data: URL) and the
// key, or an emailed code → POST 2fa/enable with the code (confirm) → the recovery codes, shown
// once, until the user ticks that they saved them. A 401 refreshes the session once (app.js),
// then sends the user to the sign-in page and back.
(function () {
  "use strict";

  var G = window.Gatehouse;
  var $ = G.$;
  var ENABLE = "/api/v1/users/2fa/enable/";
  var PROFILE = "/api/v1/users/profile/";
  var state = { password: "", method: "totp" };

  function alertText(text) { G.setStatus($("alert"), text, text ? "error" : ""); }
  function status(text, kind) { G.setStatus($("status"), text, kind); }

  function show(id) {
    ["start-form", "confirm-form", "codes-form", "finished"].forEach(function (f) { $(f).hidden = f !== id; });
  }

  function load() {
    G.authed("GET", PROFILE).then(function (r) {
      if (r.status === 401) { return; } // on the way to the sign-in page
      if (r.status !== 200) {
        status(G.message(r), "error");
        return;
      }
      if (r.data.otp_enabled) {
        status("Two-step verification is already on for " + r.data.email + ".", "success");
        show("finished");
        return;
      }
      status("");
      $("account-email").textContent = r.data.email;
      show("start-form");
      $("method-totp").focus();
    });
  }

  function start(ev) {
    ev.preventDefault();
    alertText("");
    state.method = $("method-email").checked ? "email" : "totp";
    state.password = $("password").value;
    if (state.password === "") {
      G.fieldErrors({ password: "password" }, { data: { errors: { password: ["Enter your password."] } } });
      alertText("Please correct the highlighted field.");
      return;
    }
    $("start-submit").disabled = true;
    G.authed("POST", ENABLE, { password: state.password, method: state.method }).then(function (r) {
      $("start-submit").disabled = false;
      if (r.status === 200 && r.data.status === "pending") {
        G.clearFieldErrors({ password: "password" });
        $("password").value = "";
        $("totp-setup").hidden = r.data.method !== "totp";
        $("email-setup").hidden = r.data.method !== "email";
        if (r.data.method === "totp") {
          $("qr").src = r.data.qr_code;
          $("secret").textContent = r.data.secret;
        }
        show("confirm-form");
        $("otp-code").focus();
        return;
      }
      if (r.data.code === "invalid") {
        var rest = G.fieldErrors({ password: "password" }, r);
        alertText(rest.length ? rest.join(" ") : "Please correct the highlighted field.");
        return;
      }
      alertText(G.message(r));
    });
  }

  function confirm(ev) {
    ev.preventDefault();
    alertText("");
    var code = $("otp-code").value.replace(/\s+/g, "");
    if (!/^\d{6}$/.test(code)) {
      G.fieldErrors({ otp_code: "otp-code" }, { data: { errors: { otp_code: ["Enter the 6-digit code."] } } });
      alertText("Please correct the highlighted field.");
      return;
    }
    $("confirm-submit").disabled = true;
    G.authed("POST", ENABLE, { password: state.password, method: state.method, otp_code: code }).then(function (r) {
      $("confirm-submit").disabled = false;
      if (r.status === 200 && r.data.status === "enabled") {
        state.password = "";
        $("otp-code").value = "";
        $("qr").removeAttribute("src");
        $("secret").textContent = "";
        var list = $("recovery-codes");
        list.textContent = "";
        (r.data.recovery_codes || []).forEach(function (c) {
          var li = document.createElement("li");
          li.textContent = c;
          list.appendChild(li);
        });
        status("Two-step verification is on.", "success");
        show("codes-form");
        $("saved").focus();
        return;
      }
      if (r.data.code === "otp_invalid" || r.data.code === "invalid") {
        var errors = r.data.code === "otp_invalid" ? { otp_code: [r.data.detail] } : r.data.errors;
        var rest = G.fieldErrors({ otp_code: "otp-code" }, { data: { errors: errors } });
        alertText(rest.length ? rest.join(" ") : r.data.detail || "Please correct the highlighted field.");
        return;
      }
      alertText(G.message(r));
    });
  }

  function done(ev) {
    ev.preventDefault();
    if (!$("saved").checked) { return; }
    $("recovery-codes").textContent = ""; // shown once: gone from the page too
    show("finished");
    status("Two-step verification is on. You will be asked for a code at your next sign-in.", "success");
    $("finished").querySelector("a").focus();
  }

  G.ready(function () {
    $("start-form").addEventListener("submit", start);
    $("confirm-form").addEventListener("submit", confirm);
    $("codes-form").addEventListener("submit", done);
    $("saved").addEventListener("change", function () { $("codes-done").disabled = !$("saved").checked; });
    load();
  });
})();
