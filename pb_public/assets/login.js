// The sign-in page (/login/): email + password, the CAPTCHA when captcha/required says so or the
// login asks for it, the second-factor step (TOTP, emailed code or recovery code), then the
// redirect of the login answer (or ?next= when it is a path of this site). The password stays in
// this closure only for the email-code resend and is dropped once signed in.
(function () {
  "use strict";

  var G = window.Gatehouse;
  var $ = G.$;
  var API = {
    login: "/api/v1/users/login/",
    verify: "/api/v1/users/login/verify-otp/",
    required: "/api/v1/users/captcha/required/",
    generate: "/api/v1/users/captcha/generate/",
    resend: "/api/v1/users/2fa/request-otp/"
  };
  var LOGIN_FIELDS = { email: "email", password: "password", captcha_answer: "captcha-answer" };
  var OTP_FIELDS = { otp_code: "otp-code", recovery_code: "recovery-code" };

  var state = { captchaId: "", email: "", password: "", token: "", methods: [], recovery: false };

  function alertText(text) { G.setStatus($("alert"), text, text ? "error" : ""); }
  function status(text, kind) { G.setStatus($("status"), text, kind); }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  // Captcha ------------------------------------------------------------------------------

  function hideCaptcha() {
    state.captchaId = "";
    $("captcha").hidden = true;
    $("captcha-answer").value = "";
  }

  function loadCaptcha() {
    return G.call("POST", API.generate).then(function (r) {
      if (r.status !== 200) {
        alertText(G.message(r));
        return;
      }
      state.captchaId = r.data.captcha_id;
      $("captcha-image").src = r.data.image;
      $("captcha-answer").value = "";
      $("captcha").hidden = false;
    });
  }

  // checkCaptcha asks whether this email (or this client) needs a CAPTCHA and shows one when so.
  function checkCaptcha() {
    var email = $("email").value.trim();
    var url = API.required + (email && email.indexOf("@") > 0 ? "?email=" + encodeURIComponent(email) : "");
    return G.call("GET", url).then(function (r) {
      if (r.status === 200 && r.data.required === true) {
        return state.captchaId ? null : loadCaptcha();
      }
      if (r.status === 200) { hideCaptcha(); }
      return null;
    });
  }

  // Step 1: email and password ------------------------------------------------------------

  function validLocally() {
    var errors = {};
    var email = $("email").value.trim();
    if (email === "") {
      errors.email = ["Enter your email address."];
    } else if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
      errors.email = ["Enter a valid email address."];
    }
    if ($("password").value === "") { errors.password = ["Enter your password."]; }
    if (!$("captcha").hidden && $("captcha-answer").value.trim() === "") {
      errors.captcha_answer = ["Type the characters shown in the image."];
    }
    var rest = G.fieldErrors(LOGIN_FIELDS, { data: { errors: errors } });
    if (Object.keys(errors).length) {
      alertText("Please correct the highlighted fields.");
      return false;
    }
    return rest.length === 0;
  }

  function submitLogin(ev) {
    ev.preventDefault();
    alertText("");
    status("");
    if (!validLocally()) { return; }
    var body = { email: $("email").value.trim(), password: $("password").value };
    if (state.captchaId) {
      body.captcha_id = state.captchaId;
      body.captcha_answer = $("captcha-answer").value.trim();
    }
    var button = $("login-submit");
    busy(button, true);
    status("Signing in…");
    G.call("POST", API.login, body).then(function (r) {
      busy(button, false);
      status("");
      if (r.status === 200 && r.data.otp_required) {
        state.email = body.email;
        state.password = body.password;
        hideCaptcha();
        showOtpStep(r.data);
        return;
      }
      if (r.status === 200) {
        finish(r.data);
        return;
      }
      var code = r.data.code;
      if (code === "captcha_required") {
        hideCaptcha();
        loadCaptcha().then(function () {
          G.showErrors($("captcha-answer-errors"), [r.data.detail]);
          $("captcha-answer").setAttribute("aria-invalid", "true");
          $("captcha-answer").focus();
        });
        alertText(r.data.detail === "CAPTCHA verification required."
          ? "Please complete the security check below." : "The characters did not match. Please try the new image.");
        return;
      }
      // Any other answer used up the challenge (if there was one): ask again for the next try.
      hideCaptcha();
      if (code === "invalid") {
        var rest = G.fieldErrors(LOGIN_FIELDS, r);
        alertText(rest.length ? rest.join(" ") : "Please correct the highlighted fields.");
      } else {
        alertText(G.message(r));
        if (code === "invalid_credentials") {
          $("password").value = "";
          $("password").focus();
        }
      }
      checkCaptcha();
    });
  }

  // Step 2: the second factor ---------------------------------------------------------------

  function showOtpStep(challenge) {
    state.token = challenge.temporary_token;
    state.methods = challenge.methods || [];
    var email = state.methods.indexOf("email") >= 0;
    $("otp-hint").textContent = email
      ? "We emailed a 6-digit code to your address. Enter it below; it is valid for 5 minutes."
      : "Enter the 6-digit code from your authenticator app.";
    $("resend").hidden = !email;
    useRecovery(false);
    $("login-form").hidden = true;
    $("otp-form").hidden = false;
    $("title").textContent = "Verify it's you";
    if (challenge.otp_error) { alertText(challenge.otp_error); }
    $("otp-code").focus();
  }

  function useRecovery(on) {
    state.recovery = on;
    $("otp-code-field").hidden = on;
    $("recovery-field").hidden = !on;
    $("use-recovery").textContent = on ? "Use a verification code instead" : "Use a recovery code instead";
    G.clearFieldErrors(OTP_FIELDS);
    (on ? $("recovery-code") : $("otp-code")).focus();
  }

  function startOver(message) {
    state.token = "";
    state.password = "";
    $("otp-code").value = "";
    $("recovery-code").value = "";
    $("otp-form").hidden = true;
    $("login-form").hidden = false;
    $("title").textContent = "Sign in";
    $("password").value = "";
    alertText(message || "");
    $("password").focus();
    checkCaptcha();
  }

  function submitOtp(ev) {
    ev.preventDefault();
    alertText("");
    var body = { temporary_token: state.token };
    var errors = {};
    if (state.recovery) {
      body.recovery_code = $("recovery-code").value.trim();
      if (!body.recovery_code) { errors.recovery_code = ["Enter one of your recovery codes."]; }
    } else {
      body.otp_code = $("otp-code").value.replace(/\s+/g, "");
      if (!/^\d{6}$/.test(body.otp_code)) { errors.otp_code = ["Enter the 6-digit code."]; }
    }
    G.fieldErrors(OTP_FIELDS, { data: { errors: errors } });
    if (Object.keys(errors).length) {
      alertText("Please correct the highlighted field.");
      return;
    }
    var button = $("otp-submit");
    busy(button, true);
    G.call("POST", API.verify, body).then(function (r) {
      busy(button, false);
      if (r.status === 200) {
        finish(r.data);
        return;
      }
      if (r.status === 401) {
        startOver("This sign-in attempt has expired or had too many wrong codes. Please sign in again.");
        return;
      }
      if (r.data.code === "otp_invalid") {
        var field = state.recovery ? "recovery_code" : "otp_code";
        var e = {};
        e[field] = [r.data.detail];
        G.fieldErrors(OTP_FIELDS, { data: { errors: e } });
        $(OTP_FIELDS[field]).value = "";
        alertText(r.data.detail);
        return;
      }
      var rest = r.data.code === "invalid" ? G.fieldErrors(OTP_FIELDS, r) : [];
      alertText(rest.length ? rest.join(" ") : G.message(r));
    });
  }

  function resend() {
    alertText("");
    G.call("POST", API.resend, { email: state.email, password: state.password }).then(function (r) {
      if (r.status === 200) {
        status("If your code had not arrived, a new one is on its way. Codes can be resent once a minute.", "success");
      } else {
        alertText(G.message(r));
      }
    });
  }

  // Done ------------------------------------------------------------------------------------

  function finish(tokens) {
    state.password = "";
    state.token = "";
    $("password").value = "";
    var next = G.safeNext() || (tokens.redirect && tokens.redirect.url) || "/";
    status("Signed in. Taking you on…", "success");
    window.location.assign(next);
  }

  G.ready(function () {
    $("login-form").addEventListener("submit", submitLogin);
    $("otp-form").addEventListener("submit", submitOtp);
    $("email").addEventListener("change", checkCaptcha);
    $("captcha-new").addEventListener("click", function () {
      loadCaptcha().then(function () { $("captcha-answer").focus(); });
    });
    $("use-recovery").addEventListener("click", function () { useRecovery(!state.recovery); });
    $("start-over").addEventListener("click", function () { startOver(""); });
    $("resend").addEventListener("click", resend);
    checkCaptcha();
    // shown only now: without its script the form would submit the password in a GET query
    $("login-form").hidden = false;
    $("email").focus();
  });
})();
