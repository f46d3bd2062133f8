// The invite page: the HTML variant of GET /api/v1/users/invite-agent/ and
// GET /api/v1/users/management/invite_agent/ (§5.5), for a signed-in admin (cookies; a 401
// refreshes the session once, then sends the user to the sign-in page and back). Its data is the
// JSON variant of the same endpoint (the systems of the admin's scope with their roles, the
// accounts without a role in the chosen system); the invitation is a POST to it.
(function () {
  "use strict";

  var G = window.Gatehouse;
  var $ = G.$;
  var API = /^\/api\/v1\/users\/(invite-agent|management\/invite_agent)\/$/.test(window.location.pathname)
    ? window.location.pathname : "/api/v1/users/invite-agent/";
  var FIELDS = {
    system_id: "system", role_id: "role", user_id: "user", email: "email",
    first_name: "first-name", last_name: "last-name"
  };
  var systems = [];
  var seq = 0; // only the answer of the latest list request is shown

  function alertText(text) { G.setStatus($("alert"), text, text ? "error" : ""); }
  function status(text, kind) { G.setStatus($("status"), text, kind); }

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  function currentSystem() {
    var id = $("system").value;
    for (var i = 0; i < systems.length; i++) {
      if (systems[i].id === id) { return systems[i]; }
    }
    return null;
  }

  function fillRoles() {
    var sys = currentSystem();
    var sel = $("role");
    sel.textContent = "";
    ((sys && sys.roles) || []).forEach(function (r) { sel.appendChild(option(r.id, r.name)); });
  }

  function fillUsers(users) {
    var sel = $("user");
    sel.textContent = "";
    if (!users.length) {
      sel.appendChild(option("", "No matching account"));
      return;
    }
    users.forEach(function (u) {
      var name = [u.first_name, u.last_name].join(" ").trim();
      sel.appendChild(option(u.id, name ? name + " (" + u.email + ")" : u.email));
    });
  }

  // load reads the JSON variant for the chosen system (and search); the first call fills the
  // system list too.
  function load(first) {
    var sys = currentSystem();
    var q = [];
    if (sys) { q.push("system=" + encodeURIComponent(sys.slug)); }
    var search = $("search").value.trim();
    if (search) { q.push("search=" + encodeURIComponent(search)); }
    var mine = ++seq;
    $("user").setAttribute("aria-busy", "true");
    return G.authed("GET", API + (q.length ? "?" + q.join("&") : "")).then(function (r) {
      if (mine !== seq) { return; }
      $("user").setAttribute("aria-busy", "false");
      if (r.status === 401) { return; } // on the way to the sign-in page
      if (r.status !== 200) {
        status(G.message(r), "error");
        return;
      }
      if (first) {
        systems = r.data.systems || [];
        if (!systems.length) {
          status("You are not an administrator of any system.", "error");
          return;
        }
        systems.forEach(function (s) { $("system").appendChild(option(s.id, s.name)); });
        fillRoles();
        $("invite-form").hidden = false;
        status("");
        return load(false).then(function () { $("system").focus(); });
      }
      fillUsers(r.data.available_users || []);
    });
  }

  function mode() { return $("mode-email").checked ? "email" : "user"; }

  function switchMode() {
    $("user-part").hidden = mode() !== "user";
    $("email-part").hidden = mode() !== "email";
  }

  function submit(ev) {
    ev.preventDefault();
    alertText("");
    var body = { role_id: $("role").value, system_id: $("system").value };
    var errors = {};
    if (!body.role_id) { errors.role_id = ["Choose a role."]; }
    if (mode() === "user") {
      body.user_id = $("user").value;
      if (!body.user_id) { errors.user_id = ["Choose an account."]; }
    } else {
      body.email = $("email").value.trim();
      if (!/^[^\s@]+@[^\s@]+$/.test(body.email)) { errors.email = ["Enter a valid email address."]; }
      ["first_name", "last_name"].forEach(function (name) {
        var v = $(FIELDS[name]).value.trim();
        if (v) { body[name] = v; }
      });
    }
    G.fieldErrors(FIELDS, { data: { errors: errors } });
    if (Object.keys(errors).length) {
      alertText("Please correct the highlighted fields.");
      return;
    }
    $("submit").disabled = true;
    G.authed("POST", API, body).then(function (r) {
      $("submit").disabled = false;
      if (r.status === 401) { return; }
      if (r.status === 201) {
        G.clearFieldErrors(FIELDS);
        status(r.data.message, "success");
        $("email").value = "";
        $("first-name").value = "";
        $("last-name").value = "";
        load(false);
        return;
      }
      status("");
      var rest = r.data.code === "invalid" ? G.fieldErrors(FIELDS, r) : [G.message(r)];
      alertText(rest.length ? rest.join(" ") : "Please correct the highlighted fields.");
    });
  }

  G.ready(function () {
    $("invite-form").addEventListener("submit", submit);
    $("system").addEventListener("change", function () { fillRoles(); load(false); });
    $("mode-user").addEventListener("change", switchMode);
    $("mode-email").addEventListener("change", switchMode);
    $("search-submit").addEventListener("click", function () { load(false); });
    $("search").addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") {
        ev.preventDefault();
        load(false);
      }
    });
    load(true);
  });
})();
