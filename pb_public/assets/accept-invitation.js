// The invitation page (/accept-invitation/), also the HTML variant of
// GET /api/v1/invitations/accept/. The emailed link carries the token in the URL fragment
// (#token=..., never sent to a server; the page drops it from the address bar at once). The page
// checks it with the JSON variant (nothing consumed), shows the invited email (not editable),
// system and role, and posts the chosen password to POST /api/v1/invitations/accept/. Then the
// user signs in on /login/. An existing account with that email gets the API's answer (sign in and
// ask an administrator to add the role) with a link to the sign-in page.
(function () {
  "use strict";

  var G = window.Gatehouse;
  var $ = G.$;
  var API = "/api/v1/invitations/accept/";
  var FIELDS = {
    password: "password", password_confirm: "password-confirm", username: "username",
    first_name: "first-name", last_name: "last-name"
  };
  var INVALID = "This invitation link is invalid, has expired or has already been used. Ask the person who invited you for a new one.";

  function alertText(text) { G.setStatus($("alert"), text, text ? "error" : ""); }
  function status(text, kind) { G.setStatus($("status"), text, kind); }

  // readToken takes the token from the fragment (emailed links) or, for an old-style link, the
  // query, and removes both from the address bar and the history.
  function readToken() {
    var hash = window.location.hash.replace(/^#/, "");
    var token = new URLSearchParams(hash).get("token") || new URLSearchParams(window.location.search).get("token") || "";
    if ((hash !== "" || window.location.search !== "") && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname);
    }
    return token;
  }

  function invalid() {
    $("accept-form").hidden = true;
    status("");
    alertText(INVALID);
    $("done").hidden = false;
  }

  function when(ts) {
    var d = new Date(ts);
    return isNaN(d.getTime()) ? ts : d.toLocaleString(undefined, { dateStyle: "long", timeStyle: "short" });
  }

  function show(inv) {
    status("");
    $("system-name").textContent = inv.system_name;
    $("role-name").textContent = inv.role_name;
    $("expires-at").textContent = when(inv.expires_at);
    $("email").value = inv.email;
    $("accept-form").hidden = false;
    $("first-name").focus();
  }

  function submit(token) {
    return function (ev) {
      ev.preventDefault();
      alertText("");
      var password = $("password").value;
      var confirm = $("password-confirm").value;
      var errors = {};
      if (password === "") { errors.password = ["Choose a password."]; }
      if (password !== confirm) { errors.password_confirm = ["Passwords do not match."]; }
      G.fieldErrors(FIELDS, { data: { errors: errors } });
      if (Object.keys(errors).length) {
        alertText("Please correct the highlighted fields.");
        return;
      }
      var body = { token: token, password: password, password_confirm: confirm };
      ["username", "first_name", "last_name"].forEach(function (name) {
        var v = $(FIELDS[name]).value.trim();
        if (v !== "") { body[name] = v; }
      });
      $("submit").disabled = true;
      G.call("POST", API, body).then(function (r) {
        $("submit").disabled = false;
        if (r.status === 201) {
          $("password").value = "";
          $("password-confirm").value = "";
          $("accept-form").hidden = true;
          status((r.data.message || "Invitation accepted. You can now log in.") + " Sign in with " + $("email").value + " and your new password.", "success");
          $("done").hidden = false;
          $("done").querySelector("a").focus();
          return;
        }
        if (r.data.code === "invalid" && r.data.errors && r.data.errors.token) {
          invalid();
          return;
        }
        if (r.data.code === "invalid") {
          var rest = G.fieldErrors(FIELDS, r);
          alertText(rest.length ? rest.join(" ") : "Please correct the highlighted fields.");
          return;
        }
        alertText(G.message(r));
        if (r.status === 409) {
          $("accept-form").hidden = true;
          $("done").hidden = false;
          $("done").querySelector("a").focus();
        }
      });
    };
  }

  G.ready(function () {
    // Another invitation link opened over this page changes only the fragment: start again.
    window.addEventListener("hashchange", function () {
      if (/(^#|&)token=/.test(window.location.hash)) { window.location.reload(); }
    });
    var token = readToken();
    if (token === "") {
      invalid();
      return;
    }
    $("accept-form").addEventListener("submit", submit(token));
    G.call("GET", API + "?token=" + encodeURIComponent(token)).then(function (r) {
      if (r.status === 200 && r.data.valid === true) {
        show(r.data);
      } else if (r.status === 200 || r.status === 400) {
        invalid();
      } else {
        status(G.message(r), "error");
      }
    });
  });
})();
