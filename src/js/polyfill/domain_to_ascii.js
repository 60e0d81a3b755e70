'use strict';
/* The last step of the URL polyfill's "domain to ASCII", replacing core-js-pure's
 * internals/string-punycode-to-ascii in the bundle (tools/bundle_polyfill.mjs). core-js maps and
 * refuses the cheap UTS 46 cases first; this adds what the JS engine can do without UTS 46's
 * 160 KiB mapping table: compatibility forms (NFKC), case folding, NFC, the RFC 3490 dots,
 * CheckJoiners (U+200C/U+200D refused outright: the virama rule is not checked), and
 * validation of labels that arrive punycoded ("xn--"): they must decode (RFC 3492) to a label
 * that is not empty, already mapped, NFC and free of controls (as in Node 20, an all-ASCII one
 * passes). Returns the ASCII domain, or null, which core-js reports as an invalid host
 * (TypeError "Invalid URL"). */

var BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700, INITIAL_BIAS = 72, INITIAL_N = 128;
var MAX_INT = 0x7fffffff;

function adapt(delta, numPoints, first) {
  var k = 0;
  delta = first ? Math.floor(delta / DAMP) : delta >> 1;
  delta += Math.floor(delta / numPoints);
  while (delta > ((BASE - TMIN) * TMAX) >> 1) {
    delta = Math.floor(delta / (BASE - TMIN));
    k += BASE;
  }
  return Math.floor(k + ((BASE - TMIN + 1) * delta) / (delta + SKEW));
}

function digitChar(d) {
  return String.fromCharCode(d < 26 ? 97 + d : 22 + d);
}

function charDigit(c) {
  if (c >= 48 && c <= 57) return c - 22;
  if (c >= 65 && c <= 90) return c - 65;
  if (c >= 97 && c <= 122) return c - 97;
  return -1;
}

/* RFC 3492 encoding of one label (code points) */
function encode(label) {
  var cps = Array.from(label, function (ch) { return ch.codePointAt(0); });
  var out = '';
  var i, n = INITIAL_N, delta = 0, bias = INITIAL_BIAS;
  for (i = 0; i < cps.length; i++) if (cps[i] < 0x80) out += String.fromCharCode(cps[i]);
  var h = out.length, b = h;
  if (b > 0) out += '-';
  while (h < cps.length) {
    var m = MAX_INT;
    for (i = 0; i < cps.length; i++) if (cps[i] >= n && cps[i] < m) m = cps[i];
    if (m - n > Math.floor((MAX_INT - delta) / (h + 1))) return null;
    delta += (m - n) * (h + 1);
    n = m;
    for (i = 0; i < cps.length; i++) {
      if (cps[i] < n && ++delta > MAX_INT) return null;
      if (cps[i] !== n) continue;
      var q = delta;
      for (var k = BASE; ; k += BASE) {
        var t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
        if (q < t) break;
        out += digitChar(t + ((q - t) % (BASE - t)));
        q = Math.floor((q - t) / (BASE - t));
      }
      out += digitChar(q);
      bias = adapt(delta, h + 1, h === b);
      delta = 0;
      h++;
    }
    delta++;
    n++;
  }
  return out;
}

/* RFC 3492 decoding, or null when the input is not valid punycode */
function decode(input) {
  var out = [];
  var n = INITIAL_N, i = 0, bias = INITIAL_BIAS;
  var basic = input.lastIndexOf('-');
  if (basic < 0) basic = 0;
  for (var j = 0; j < basic; j++) {
    if (input.charCodeAt(j) >= 0x80) return null;
    out.push(input.charCodeAt(j));
  }
  for (var pos = basic > 0 ? basic + 1 : 0; pos < input.length;) {
    var oldi = i, w = 1;
    for (var k = BASE; ; k += BASE) {
      if (pos >= input.length) return null;
      var d = charDigit(input.charCodeAt(pos++));
      if (d < 0 || d > Math.floor((MAX_INT - i) / w)) return null;
      i += d * w;
      var t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
      if (d < t) break;
      if (w > Math.floor(MAX_INT / (BASE - t))) return null;
      w *= BASE - t;
    }
    bias = adapt(i - oldi, out.length + 1, oldi === 0);
    if (Math.floor(i / (out.length + 1)) > MAX_INT - n) return null;
    n += Math.floor(i / (out.length + 1));
    i %= out.length + 1;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return null;
    out.splice(i++, 0, n);
  }
  return String.fromCodePoint.apply(null, out);
}

var NON_ASCII = /[^\0-\x7f]/;
var CONTROLS = /[\0-\x1f\x7f-\x9f]/;

function mapped(s) {
  return s.normalize('NFKC').toLowerCase().normalize('NFC');
}

module.exports = function toASCII(input) {
  var labels = mapped(input).replace(/[\u3002\uff0e\uff61]/g, '.').split('.');
  var out = [];
  for (var i = 0; i < labels.length; i++) {
    var label = labels[i];
    if (label.slice(0, 4) === 'xn--') {
      var u = decode(label.slice(4));
      if (u === null || u === '' || CONTROLS.test(u) || mapped(u) !== u ||
          /[\u200c\u200d]/.test(u))
        return null;
      out.push(label);
    } else if (NON_ASCII.test(label)) {
      if (/[\u200c\u200d]/.test(label)) return null;
      var e = encode(label);
      if (e === null) return null;
      out.push('xn--' + e);
    } else {
      out.push(label);
    }
  }
  return out.join('.');
};
