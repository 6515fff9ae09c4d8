/* twinledger: checking a ledger receipt in the operator's browser, so that the result does not rest
   on the server's word. WebCrypto only (SHA-256, Ed25519), no library, nothing fetched.

   A receipt (twinledger.ledger.receipts) holds the entry exactly as hashed into the tree, its
   RFC 9162 inclusion proof, the signed checkpoint (C2SP signed note) the proof leads to and, for
   entries not signed by the platform, the entry that registered the signer's key with its own
   proof. The check, step by step, against the log's verifier key — the one pinned in this browser
   when there is one, else the one the server sent:

     1. the key is an Ed25519 note key whose key hash matches;
     2. the checkpoint is signed by it (and, when present, its timestamped cosignature: the time);
     3. the entry is framed {"body":…,"index":n,"sig":"…"} and SHA-256(0x00 || entry) is the leaf
        the proof starts from;
     4. the proof leads from that leaf to the checkpoint's root (RFC 9162 §2.1.3.2);
     5. the signer's key: the log key for the platform's entries, else a key registration entry
        of the platform, earlier in the log, included in the same checkpoint, signed by the log key;
     6. the entry's Ed25519 signature over "twinledger/entry/v1\n" || body verifies with that key.
*/
(function () {
  "use strict";

  const enc = new TextEncoder();
  const PLATFORM = "platform";
  const KEY_KIND = "ledger.key";
  const ENTRY_CONTEXT = enc.encode("twinledger/entry/v1\n");
  const DASH = "\u2014 ";
  const PIN_PREFIX = "twinledger.logkey:";

  class Failure extends Error {}

  function b64(text) {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function tob64(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  }
  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function same(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  async function ed25519(publicRaw, signature, message) {
    const key = await crypto.subtle.importKey("raw", publicRaw, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }
  const leafHash = (entry) => sha256(concat(new Uint8Array([0]), entry));
  const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

  /* RFC 9162 §2.1.3.2: the root an inclusion proof leads to from a leaf hash. */
  async function rootFromInclusion(index, size, leaf, path) {
    if (!(index >= 0 && index < size)) throw new Failure(`leaf index ${index} is not in a tree of ${size} entries`);
    let fn = index, sn = size - 1, r = leaf;
    for (const p of path) {
      if (sn === 0) throw new Failure("the inclusion proof is longer than the tree is high");
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn !== 0 && fn % 2 === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Failure("the inclusion proof is shorter than the tree is high");
    return r;
  }

  /* A note verifier key: name+hash+base64(type || public key). */
  async function parseVkey(text) {
    const parts = (text || "").trim().split("+");
    if (parts.length < 3) throw new Failure("the log key is not name+hash+key");
    const name = parts[0], hashHex = parts[1], raw = b64(parts.slice(2).join("+"));
    if (raw.length !== 33 || raw[0] !== 0x01) throw new Failure("the log key is not an Ed25519 note key");
    const pub = raw.slice(1);
    const kh = (await sha256(concat(enc.encode(name + "\n"), new Uint8Array([0x01]), pub))).slice(0, 4);
    if (hex(kh) !== hashHex) throw new Failure("the log key's key hash does not match its key");
    const cosignHash = (await sha256(concat(enc.encode(name + "\n"), new Uint8Array([0x04]), pub))).slice(0, 4);
    return { name, pub, hash: kh, cosignHash, text: text.trim() };
  }

  function parseNote(data) {
    const cut = data.lastIndexOf("\n\n");
    if (cut < 0 || !data.endsWith("\n")) throw new Failure("the checkpoint is not a signed note");
    const text = data.slice(0, cut + 1);
    const sigs = data.slice(cut + 2).split("\n").filter((l) => l).map((line) => {
      if (!line.startsWith(DASH)) throw new Failure("a signature line of the checkpoint is malformed");
      const rest = line.slice(DASH.length);
      const space = rest.indexOf(" ");
      const raw = b64(rest.slice(space + 1));
      return { name: rest.slice(0, space), keyHash: raw.slice(0, 4), sig: raw.slice(4) };
    });
    const lines = text.split("\n");
    if (lines.length !== 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Failure("the checkpoint's text is malformed");
    const root = b64(lines[2]);
    if (root.length !== 32) throw new Failure("the checkpoint's root hash is not 32 bytes");
    return { text, sigs, origin: lines[0], size: Number(lines[1]), root };
  }

  /* {"body":<body>,"index":<n>,"sig":"<88 characters>"} → its exact parts. */
  function parseEntry(data) {
    const text = new TextDecoder().decode(data);
    const head = '{"body":', tail = '"}', sigTag = ',"sig":"', mid = ',"index":';
    if (!text.startsWith(head) || !text.endsWith(tail)) throw new Failure("the entry is not framed as {\"body\":…,\"index\":…,\"sig\":…}");
    const sigAt = text.length - tail.length - 88 - sigTag.length;
    if (text.slice(sigAt, sigAt + sigTag.length) !== sigTag) throw new Failure("the entry's signature is not 64 bytes");
    const midAt = text.lastIndexOf(mid, sigAt);
    const digits = text.slice(midAt + mid.length, sigAt);
    if (midAt < 0 || !/^(0|[1-9][0-9]*)$/.test(digits)) throw new Failure("the entry's index is malformed");
    const bodyText = text.slice(head.length, midAt);
    let fields;
    try { fields = JSON.parse(bodyText); } catch (e) { throw new Failure("the entry's body is not JSON"); }
    return {
      index: Number(digits),
      body: enc.encode(bodyText),
      fields,
      sig: b64(text.slice(sigAt + sigTag.length, text.length - tail.length)),
    };
  }

  async function included(what, data, proof, cp, step) {
    const raw = enc.encode(data);
    const entry = parseEntry(raw);
    if (proof.leafIndex !== entry.index) throw new Failure(`the ${what} is at index ${entry.index} but its proof is for ${proof.leafIndex}`);
    if (proof.treeSize !== cp.size) throw new Failure(`the ${what}'s proof is for a tree of ${proof.treeSize}, the checkpoint's has ${cp.size}`);
    const leaf = await leafHash(raw);
    if (!same(leaf, b64(proof.leafHash))) {
      throw new Failure(`the ${what} as the server sent it does not hash to the leaf the tree holds at index ${entry.index}: its bytes were changed after it was logged`);
    }
    step(`The ${what} hashes to leaf ${entry.index} of the tree (SHA-256 ${hex(leaf).slice(0, 16)}…).`);
    const root = await rootFromInclusion(entry.index, cp.size, leaf, proof.path.map(b64));
    if (!same(root, cp.root)) throw new Failure(`the inclusion proof of the ${what} does not lead to the checkpoint's root`);
    step(`Its inclusion proof (${proof.path.length} hashes) leads to the root of the ${cp.size}-entry tree.`);
    return entry;
  }

  async function keyIdOf(pub) {
    return hex((await sha256(pub)).slice(0, 8));
  }

  async function check(receipt, vkeyText, steps) {
    const step = (text) => steps.push({ ok: true, text });
    if (!window.isSecureContext || !crypto.subtle) {
      throw new Failure("this browser offers no WebCrypto here: it does so only on https:// pages or on localhost; open the dashboards over https (a TLS proxy with [http] public_url) or from this machine");
    }
    if (receipt.format !== "twinledger-receipt/1") throw new Failure(`unknown receipt format ${receipt.format}`);
    const key = await parseVkey(vkeyText);
    step(`Log key ${key.name} (key hash ${hex(key.hash)}) is an Ed25519 note key.`);
    const cp = parseNote(receipt.checkpoint);
    if (cp.origin !== key.name) throw new Failure(`the checkpoint is for the log ${cp.origin}, not ${key.name}`);
    const logSig = cp.sigs.find((s) => s.name === key.name && same(s.keyHash, key.hash));
    if (!logSig || !(await ed25519(key.pub, logSig.sig, enc.encode(cp.text)))) {
      throw new Failure("the checkpoint is not signed by the log key");
    }
    let signedAt = null;
    for (const s of cp.sigs) {
      if (s.name === key.name && same(s.keyHash, key.cosignHash) && s.sig.length === 72) {
        const ts = Number(new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0));
        const msg = concat(enc.encode(`cosignature/v1\ntime ${ts}\n`), enc.encode(cp.text));
        if (await ed25519(key.pub, s.sig.slice(8), msg)) signedAt = ts;
      }
    }
    const witnesses = cp.sigs.filter((s) => s.name !== key.name).map((s) => s.name);
    step(`The checkpoint (${cp.size} entries, root ${hex(cp.root).slice(0, 16)}…) is signed by the log key` +
      (signedAt !== null ? `, at ${new Date(signedAt * 1000).toISOString().replace(".000Z", " UTC").replace("T", " ")}` : "") +
      (witnesses.length ? `; cosigned by ${witnesses.join(", ")} (not checked here)` : "") + ".");
    const entry = await included("entry", receipt.entry, receipt.proof, cp, step);
    const signer = entry.fields.signer, kid = entry.fields.key;
    let pub;
    if (signer === PLATFORM) {
      if (kid !== (await keyIdOf(key.pub))) throw new Failure("the entry is signed by a platform key other than the log's");
      pub = key.pub;
      step("It is signed by the platform, with the log key itself.");
    } else {
      const reg = receipt.signerKey;
      if (!reg) throw new Failure("the receipt lacks the registration of the signer's key");
      const r = await included("key registration", reg.entry, reg.proof, cp, step);
      if (r.fields.kind !== KEY_KIND || r.fields.signer !== PLATFORM || r.index >= entry.index) {
        throw new Failure("the key registration is not an earlier ledger.key entry of the platform");
      }
      if (!(await ed25519(key.pub, r.sig, concat(ENTRY_CONTEXT, r.body)))) throw new Failure("the key registration is not signed by the log key");
      const payload = r.fields.payload || {};
      if (payload.participant !== signer || payload.keyId !== kid) throw new Failure("the key registration is for another participant or key");
      pub = b64(payload.publicKey || "");
      if (pub.length !== 32 || (await keyIdOf(pub)) !== kid) throw new Failure("the registered public key does not match its key id");
      step(`The key ${kid} of ${signer} was registered by the platform in entry ${r.index}.`);
    }
    if (!(await ed25519(pub, entry.sig, concat(ENTRY_CONTEXT, entry.body)))) {
      throw new Failure(`the entry's signature does not verify with the key of ${signer}`);
    }
    step(`The entry's Ed25519 signature by ${signer} verifies over its body.`);
    return entry;
  }

  /* Dash components as JSON, for clientside callbacks. */
  function h(type, props, children) {
    return { namespace: "dash_html_components", type, props: Object.assign({}, props, { children }) };
  }

  function pinned(origin) {
    try { return window.localStorage.getItem(PIN_PREFIX + origin); } catch (e) { return null; }
  }

  /* The verdict on one receipt, as a Dash component; `ids` gives its parts the ids of the ledger
     page (one verdict there), other pages get none (they may show many). */
  async function verdict(data, ids) {
    if (!data) return window.dash_clientside.no_update;
    const id = (name) => (ids ? { id: name } : {});
    if (data.error) {
      return h("Div", Object.assign({ className: "tl-verdict tl-verdict-bad", "data-ok": "false",
                                      "data-index": String(data.index ?? "") }, id("tl-ledger-verdict-box")), [
        h("Div", { className: "tl-verdict-title" }, `Entry ${data.index ?? ""} cannot be checked`),
        h("Div", {}, data.error),
      ]);
    }
    const steps = [];
    const kept = pinned(data.origin);
    const source = kept
      ? (kept === data.vkey ? "the log key pinned in this browser" : "the log key pinned in this browser (the server sent a different one!)")
      : "the log key as the server sent it" + (ids ? " — pin it to stop relying on the server for it" : "");
    let ok = true, reason = "";
    try {
      await check(data.receipt, kept || data.vkey, steps);
    } catch (e) {
      ok = false;
      reason = e instanceof Failure ? e.message : `the check could not run (${e && e.message ? e.message : e})`;
    }
    const items = steps.map((s) => h("Li", { className: "tl-step-ok" }, "✓ " + s.text));
    if (!ok) items.push(h("Li", { className: "tl-step-bad" }, "✗ " + reason));
    const title = ok
      ? `Entry ${data.index} verified in this browser`
      : `Entry ${data.index} FAILED verification`;
    return h("Div", Object.assign({ className: "tl-verdict " + (ok ? "tl-verdict-ok" : "tl-verdict-bad"),
                                    "data-ok": ok ? "true" : "false", "data-index": String(data.index) },
                                  id("tl-ledger-verdict-box")), [
      h("Div", Object.assign({ className: "tl-verdict-title" }, id("tl-ledger-verdict-title")), ok ? "✓ " + title : "✗ " + title + ": " + reason),
      h("Div", { className: "tl-verdict-sub" }, `Checked with ${source}, by WebCrypto (SHA-256, Ed25519) in this page; the server only supplied the receipt.`),
      h("Ol", { className: "tl-steps" }, items),
    ]);
  }

  function pinStatus(origin, vkey) {
    if (!origin) return "";
    const kept = pinned(origin);
    if (!kept) return h("Span", { className: "tl-badge tl-badge-warn", id: "tl-ledger-pin-state" }, "not pinned in this browser");
    if (kept === vkey) return h("Span", { className: "tl-badge tl-badge-ok", id: "tl-ledger-pin-state" }, "pinned in this browser");
    return h("Span", { className: "tl-badge tl-badge-bad", id: "tl-ledger-pin-state", title: kept },
             "the server's key differs from the one pinned in this browser");
  }

  async function pin(nPin, nForget, pasted, info) {
    if (!info) return window.dash_clientside.no_update;
    const trigger = (window.dash_clientside.callback_context.triggered[0] || {}).prop_id || "";
    const storeKey = PIN_PREFIX + info.origin;
    if (trigger.startsWith("tl-ledger-forget")) {
      window.localStorage.removeItem(storeKey);
    } else if (trigger.startsWith("tl-ledger-pin")) {
      const wanted = (pasted || "").trim() || info.vkey;
      try {
        const key = await parseVkey(wanted);
        if (key.name !== info.origin) {
          return h("Span", { className: "tl-badge tl-badge-bad", id: "tl-ledger-pin-state" }, `that key is for the log ${key.name}, not ${info.origin}`);
        }
      } catch (e) {
        return h("Span", { className: "tl-badge tl-badge-bad", id: "tl-ledger-pin-state" }, e.message || String(e));
      }
      window.localStorage.setItem(storeKey, wanted);
    }
    return pinStatus(info.origin, info.vkey);
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.twinledger_ledger = {
    verify: (data) => verdict(data, true), // the ledger page
    verify_receipt: (data) => verdict(data, false), // any page: twinledger.verify_receipt_callback
    pin,
    status: (info) => (info ? pinStatus(info.origin, info.vkey) : ""),
  };
  window.twinledgerLedger = { check, parseVkey, rootFromInclusion }; // for tests and the curious
})();
