// Passkeys (WebAuthn): register one once signed in, then sign in with it. Loaded from /static
// (the page's CSP allows no inline script); the server checks everything.
(function () {
  "use strict";
  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function say(text, failed) {
    var element = document.getElementById("passkey-status");
    if (element) {
      element.setAttribute("role", failed ? "alert" : "status");
      element.textContent = text;
    }
  }
  async function post(url, body, csrf) {
    var response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf || "" },
      body: JSON.stringify(body || {})
    });
    var data = await response.json();
    if (!response.ok) { throw new Error(data.error || "refused"); }
    return data;
  }
  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }
  async function register(button) {
    var csrf = button.getAttribute("data-csrf");
    var options = await post("/passkeys/register/options", {}, csrf);
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    var made = await navigator.credentials.create({ publicKey: options });
    var answer = await post("/passkeys/register", {
      id: made.id,
      rawId: toText(made.rawId),
      type: made.type,
      response: {
        clientDataJSON: toText(made.response.clientDataJSON),
        attestationObject: toText(made.response.attestationObject),
        transports: made.response.getTransports ? made.response.getTransports() : []
      },
      clientExtensionResults: made.getClientExtensionResults(),
      authenticatorAttachment: made.authenticatorAttachment
    }, csrf);
    say(answer.message, false);
  }
  async function signIn() {
    var options = await post("/passkeys/signin/options", {});
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    var got = await navigator.credentials.get({ publicKey: options });
    var answer = await post("/passkeys/signin", {
      id: got.id,
      rawId: toText(got.rawId),
      type: got.type,
      response: {
        clientDataJSON: toText(got.response.clientDataJSON),
        authenticatorData: toText(got.response.authenticatorData),
        signature: toText(got.response.signature),
        userHandle: got.response.userHandle ? toText(got.response.userHandle) : null
      },
      clientExtensionResults: got.getClientExtensionResults(),
      authenticatorAttachment: got.authenticatorAttachment
    });
    window.location.assign(answer.next);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var registering = document.getElementById("passkey-register");
    if (registering) {
      registering.addEventListener("click", function () {
        register(registering).catch(function (error) { say("Not registered: " + error.message, true); });
      });
    }
    var signing = document.getElementById("passkey-signin");
    if (signing) {
      signing.addEventListener("click", function () {
        signIn().catch(function (error) { say("Not signed in: " + error.message, true); });
      });
    }
  });
})();
