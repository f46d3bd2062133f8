// The TTS assignment pages: the HTML variants of GET /api/v1/tts/assign-agent-to-role/,
// GET /api/v1/tts/assign-role/ and GET /assign-role/ (§5.13.2, §5.13.4, §5.14.4), for a signed-in
// TTS admin (cookies; a 401 refreshes the session once, then sends the user to the sign-in page and
// back). The list is the JSON variant of the page's own endpoint; the accounts to choose from are
// those already in it plus the active accounts without a TTS role (the JSON variant of
// GET /api/v1/users/invite-agent/?system=tts). Assigning is POST /api/v1/tts/assign-agent-to-role/.
(function () {
  "use strict";

  var G = window.Gatehouse;
  var $ = G.$;
  var ASSIGN = "/api/v1/tts/assign-agent-to-role/";
  var CANDIDATES = "/api/v1/users/invite-agent/?system=tts";
  var PAGES = ["/api/v1/tts/assign-agent-to-role/", "/api/v1/tts/assign-role/", "/assign-role/"];
  var FIELDS = { userID: "agent", role: "role", settings: "deployed" };

  function dataURL() {
    var path = window.location.pathname.replace(/\/?$/, "/");
    return PAGES.indexOf(path) >= 0 ? path : document.querySelector("main").getAttribute("data-api");
  }

  function alertText(text) { G.setStatus($("alert"), text, text ? "error" : ""); }
  function status(text, kind) { G.setStatus($("status"), text, kind); }

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  // rows turns either JSON variant into one shape: the assign-agent-to-role list has users with
  // their account flag, the assign-role list has assignments with their own flags.
  function rows(data) {
    if (data.assignments) {
      return data.assignments.map(function (a) {
        return { userID: a.user_id, first: a.user_first_name, last: a.user_last_name, email: a.user_email,
          role: a.role_name, active: a.is_active, deployed: a.is_deployed };
      });
    }
    return (data.users || []).map(function (u) {
      return { userID: u.user_id, first: u.first_name, last: u.last_name, email: u.email,
        role: u.role_name, active: u.is_active && u.assignment_is_active, deployed: null };
    });
  }

  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }

  function fullName(first, last) { return [first || "", last || ""].join(" ").trim(); }

  function fillTable(list, withDeployed) {
    var body = document.querySelector("#assignments tbody");
    body.textContent = "";
    $("deployed-col").hidden = !withDeployed;
    if (!list.length) {
      var tr = document.createElement("tr");
      var td = document.createElement("td");
      td.colSpan = withDeployed ? 4 : 3;
      td.className = "empty";
      td.textContent = "No one holds a TTS role yet.";
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    list.forEach(function (row) {
      var tr = document.createElement("tr");
      var who = document.createElement("td");
      var name = fullName(row.first, row.last);
      if (name) { who.appendChild(document.createTextNode(name)); }
      var mail = document.createElement("span");
      mail.className = "email";
      mail.textContent = row.email;
      who.appendChild(mail);
      tr.appendChild(who);
      cell(tr, row.role);
      cell(tr, row.active ? "Yes" : "No");
      if (withDeployed) { cell(tr, row.deployed === false ? "No" : "Yes"); }
      body.appendChild(tr);
    });
  }

  function fillAgents(list, candidates) {
    var seen = {};
    var people = [];
    list.concat(candidates).forEach(function (p) {
      if (seen[p.userID]) { return; }
      seen[p.userID] = true;
      people.push(p);
    });
    people.sort(function (a, b) {
      return (fullName(a.first, a.last) + a.email).toLowerCase() < (fullName(b.first, b.last) + b.email).toLowerCase() ? -1 : 1;
    });
    var keep = $("agent").value;
    var sel = $("agent");
    sel.textContent = "";
    sel.appendChild(option("", "Choose an agent"));
    people.forEach(function (p) {
      var name = fullName(p.first, p.last);
      sel.appendChild(option(p.userID, name ? name + " (" + p.email + ")" : p.email));
    });
    sel.value = keep;
  }

  function fillRoles(roles) {
    var keep = $("role").value;
    var sel = $("role");
    sel.textContent = "";
    sel.appendChild(option("", "Choose a role"));
    roles.forEach(function (r) { sel.appendChild(option(r.id, r.name)); });
    sel.value = keep;
  }

  function load() {
    return G.authed("GET", dataURL()).then(function (r) {
      if (r.status === 401) { return null; } // on the way to the sign-in page
      if (r.status !== 200) {
        status(G.message(r), "error");
        return null;
      }
      var list = rows(r.data);
      fillTable(list, !!r.data.assignments);
      fillRoles(r.data.roles || []);
      return G.authed("GET", CANDIDATES).then(function (c) {
        var candidates = c.status === 200 ? (c.data.available_users || []).map(function (u) {
          return { userID: u.id, first: u.first_name, last: u.last_name, email: u.email };
        }) : [];
        fillAgents(list, candidates);
        $("assign-form").hidden = false;
        $("list").hidden = false;
        return true;
      });
    });
  }

  function submit(ev) {
    ev.preventDefault();
    alertText("");
    var body = { userID: $("agent").value, role: $("role").value, settings: { is_deployed: $("deployed").checked } };
    var errors = {};
    if (!body.userID) { errors.userID = ["Choose an agent."]; }
    if (!body.role) { errors.role = ["Choose a role."]; }
    G.fieldErrors(FIELDS, { data: { errors: errors } });
    if (Object.keys(errors).length) {
      alertText("Please correct the highlighted fields.");
      return;
    }
    $("submit").disabled = true;
    G.authed("POST", ASSIGN, body).then(function (r) {
      $("submit").disabled = false;
      if (r.status === 401) { return; }
      if (r.status === 201) {
        G.clearFieldErrors(FIELDS);
        var who = $("agent").options[$("agent").selectedIndex].textContent;
        status((r.data.message || "User successfully assigned to TTS role.") + " " + who + ": " + r.data.role + ".", "success");
        load();
        return;
      }
      status("");
      var rest = r.data.code === "invalid" ? G.fieldErrors(FIELDS, r) : [G.message(r)];
      alertText(rest.length ? rest.join(" ") : "Please correct the highlighted fields.");
    });
  }

  G.ready(function () {
    $("assign-form").addEventListener("submit", submit);
    load().then(function (ok) {
      if (ok) {
        status("");
        $("agent").focus();
      }
    });
  });
})();
