/* Mail composition: the message parsed back, line limits, quoted-printable round trips, refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bw_mail.h"

/* 2024-02-29 23:59:58.5 UTC, a Thursday. */
#define NOW_US INT64_C(1709251198500000)

static const char *const two_to[] = {"ops@example.org", "Dev Team <dev@example.org>"};

/* UTF-8 with long lines, "=" signs, trailing spaces and tabs, a lone "." line, non-ASCII. */
static const char text_body[] =
    "Nightly report \xe2\x80\x94 all normal.\n"
    "portal-home: median 98.2 ms (baseline 97.9 ms), ratio=1.00, \xc3\xa9t\xc3\xa9 \xe6\x97\xa5"
    "\xe6\x9c\xac\xe8\xaa\x9e, and a very long line that goes on and on well past seventy-six "
    "characters so that it must be broken by soft line breaks \xf0\x9f\x93\x88 twice or more "
    "without ever splitting an =XX escape across lines.\n"
    "trailing spaces   \n"
    "trailing tab\t\n"
    ".\n"
    "..dots\n"
    "=3D is not an escape here; neither is =\n"
    "\n"
    "no newline at the end   ";

static const char html_body[] =
    "<!doctype html><html><body><p style=\"color:#333\">Nightly report \xe2\x80\x94 "
    "<b>all normal</b></p><svg width=\"120\" height=\"20\"><polyline points=\"0,10 10,12 20,9 30,"
    "11 40,10 50,8\"/></svg></body></html>\n";

static char *compose(const char *subject, struct bw_errs *errs) {
  struct bw_mail_message m = {"benchwatch@monitor.example.org",
                              two_to,
                              2,
                              subject,
                              text_body,
                              html_body,
                              "monitor.example.org",
                              NULL,
                              0};
  return bw_mail_compose(&m, NOW_US, errs);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes quoted-printable text with CRLF lines; a hard break comes back as "\n". */
static char *qp_decode(const char *s, size_t len) {
  char *out = malloc(len + 1);
  size_t o = 0;
  assert_non_null(out);
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '=' && i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') {
      i += 2;
    } else if (s[i] == '=') {
      assert_true(i + 2 < len);
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      assert_true(hi >= 0 && lo >= 0);
      out[o++] = (char)(hi * 16 + lo);
      i += 2;
    } else if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') {
      out[o++] = '\n';
      i++;
    } else {
      assert_false(s[i] == '\r' || s[i] == '\n'); /* bare CR or LF never appear */
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return out;
}

/* Every line ends in CRLF, holds at most 78 characters, all 7-bit; no line is a lone ".". */
static void assert_lines_ok(const char *msg) {
  const char *p = msg;
  while (*p) {
    const char *crlf = strstr(p, "\r\n");
    assert_non_null(crlf);
    assert_in_range((size_t)(crlf - p), 0, 78);
    for (const char *q = p; q < crlf; q++) {
      assert_true((unsigned char)*q < 0x80);
      assert_true(*q != '\r' && *q != '\n');
    }
    assert_false(crlf - p == 1 && *p == '.');
    p = crlf + 2;
  }
}

/* The header block, unfolded: "Name: value" lines joined by "\n". */
static char *headers_of(const char *msg) {
  const char *end = strstr(msg, "\r\n\r\n");
  assert_non_null(end);
  char *h = malloc((size_t)(end - msg) + 1);
  size_t o = 0;
  for (const char *p = msg; p < end; p++) {
    if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
      p++;
      continue;
    }
    if (p[0] == '\r' && p[1] == '\n') {
      h[o++] = '\n';
      p++;
      continue;
    }
    h[o++] = *p;
  }
  h[o] = '\0';
  return h;
}

/* The body of the part whose Content-Type starts with type, QP-decoded. */
static char *part_body(const char *msg, const char *boundary, const char *type) {
  char delim[128];
  (void)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
  const char *p = strstr(msg, delim);
  while (p) {
    const char *start = p + strlen(delim) + 2;
    const char *next = strstr(start, delim);
    assert_non_null(next);
    char want[64];
    (void)snprintf(want, sizeof(want), "Content-Type: %s; charset=UTF-8\r\n", type);
    if (strncmp(start, want, strlen(want)) == 0) {
      assert_non_null(strstr(start, "Content-Transfer-Encoding: quoted-printable\r\n"));
      const char *body = strstr(start, "\r\n\r\n");
      assert_true(body && body < next);
      body += 4;
      return qp_decode(body, (size_t)(next - body));
    }
    p = next;
  }
  fail_msg("no %s part", type);
  return NULL;
}

static void structure_and_round_trip(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  char *msg = compose("benchwatch: all normal", &errs);
  assert_non_null(msg);
  assert_int_equal(errs.n, 0);
  assert_lines_ok(msg);
  char *h = headers_of(msg);
  assert_non_null(strstr(h, "Date: Thu, 29 Feb 2024 23:59:58 +0000\n"));
  assert_non_null(strstr(h, "\nFrom: benchwatch@monitor.example.org\n"));
  assert_non_null(strstr(h, "\nTo: ops@example.org, Dev Team <dev@example.org>\n"));
  assert_non_null(strstr(h, "\nSubject: benchwatch: all normal\n"));
  assert_non_null(strstr(h, "\nMIME-Version: 1.0\n"));
  assert_non_null(strstr(h, "@monitor.example.org>\n"));
  const char *ct = strstr(h, "\nContent-Type: multipart/alternative; boundary=\"");
  assert_non_null(ct);
  char boundary[100];
  const char *bs = strchr(ct, '"') + 1;
  size_t bl = (size_t)(strchr(bs, '"') - bs);
  assert_true(bl > 0 && bl < sizeof(boundary));
  memcpy(boundary, bs, bl);
  boundary[bl] = '\0';
  char closing[128];
  (void)snprintf(closing, sizeof(closing), "\r\n--%s--\r\n", boundary);
  assert_non_null(strstr(msg, closing));
  char *text = part_body(msg, boundary, "text/plain");
  char *html = part_body(msg, boundary, "text/html");
  assert_string_equal(text, text_body);
  assert_string_equal(html, html_body);
  free(text);
  free(html);
  free(h);
  free(msg);
}

static void message_ids_differ(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  char *a = compose("x", &errs), *b = compose("x", &errs);
  const char *ia = strstr(a, "Message-ID: <"), *ib = strstr(b, "Message-ID: <");
  assert_non_null(ia);
  assert_non_null(ib);
  size_t la = (size_t)(strchr(ia, '>') - ia);
  assert_false(la == (size_t)(strchr(ib, '>') - ib) && memcmp(ia, ib, la) == 0);
  free(a);
  free(b);
}

static char *b64_words_decode(const char *v) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = calloc(1, strlen(v) + 1);
  size_t o = 0;
  const char *p = v;
  while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
    p += 10;
    const char *end = strstr(p, "?=");
    assert_non_null(end);
    uint32_t acc = 0;
    int bits = 0;
    for (; p < end; p++) {
      if (*p == '=')
        continue;
      acc = (acc << 6) | (uint32_t)(strchr(tab, *p) - tab);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (char)((acc >> bits) & 0xff);
      }
    }
    p = end + 2;
  }
  return out;
}

static void subject_encoded_words(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  const char *subject = "benchwatch: 2 R\xc3\xbc"
                        "ckschritte \xe2\x80\x94 portal-home langsamer, "
                        "big-tarball \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e, und eine lange Zeile";
  char *msg = compose(subject, &errs);
  assert_non_null(msg);
  assert_lines_ok(msg);
  char *h = headers_of(msg);
  char *s = strstr(h, "\nSubject: =?UTF-8?B?");
  assert_non_null(s);
  char *eol = strchr(s + 1, '\n');
  *eol = '\0';
  char *decoded = b64_words_decode(s);
  assert_string_equal(decoded, subject);
  /* Long ASCII and "=?" look-alikes are encoded too, and come back the same. */
  free(decoded);
  free(h);
  free(msg);
  const char *odd = "=?not an encoded word?= but plain text that happens to look like one";
  msg = compose(odd, &errs);
  h = headers_of(msg);
  s = strstr(h, "\nSubject: ");
  eol = strchr(s + 1, '\n');
  *eol = '\0';
  decoded = b64_words_decode(s);
  assert_string_equal(decoded, odd);
  free(decoded);
  free(h);
  free(msg);
}

static void many_recipients_fold(void **state) {
  struct bw_errs errs = {0};
  const char *to[12];
  char names[12][40];
  (void)state;
  for (int i = 0; i < 12; i++) {
    (void)snprintf(names[i], sizeof(names[i]), "operations-team-%02d@example.org", i);
    to[i] = names[i];
  }
  struct bw_mail_message m = {"a@b", to, 12, "s", "t", NULL, "h", NULL, 0};
  char *msg = bw_mail_compose(&m, NOW_US, &errs);
  assert_non_null(msg);
  assert_lines_ok(msg);
  char *h = headers_of(msg);
  assert_non_null(
      strstr(h, "\nTo: operations-team-00@example.org, operations-team-01@example.org, "));
  assert_non_null(strstr(h, "operations-team-10@example.org, operations-team-11@example.org\n"));
  /* Without HTML: a single text/plain body. */
  assert_non_null(strstr(h, "\nContent-Type: text/plain; charset=UTF-8\n"));
  assert_null(strstr(h, "multipart"));
  free(h);
  free(msg);
}

static void header_injection_refused(void **state) {
  struct bw_errs errs = {0};
  const char *bad_to[] = {"ops@example.org\r\nBcc: victim@example.org"};
  (void)state;
  struct bw_mail_message m = {"a@b", two_to, 2, "report\r\nBcc: x@y", "t", "h", "host", NULL, 0};
  assert_null(bw_mail_compose(&m, NOW_US, &errs));
  assert_int_equal(errs.n, 1);
  assert_non_null(strstr(errs.msg[0], "subject contains a line break"));
  bw_errs_clear(&errs);

  m.subject = "ok";
  m.to = bad_to;
  m.n_to = 1;
  assert_null(bw_mail_compose(&m, NOW_US, &errs));
  assert_non_null(strstr(errs.msg[0], "to contains a line break"));
  bw_errs_clear(&errs);

  m.to = two_to;
  m.from = "a@b\nX-Evil: 1";
  m.hostname = "h\rx";
  assert_null(bw_mail_compose(&m, NOW_US, &errs));
  assert_int_equal(errs.n, 2);
  bw_errs_clear(&errs);

  m.from = "caf\xc3\xa9@example.org";
  m.hostname = "host";
  assert_null(bw_mail_compose(&m, NOW_US, &errs));
  assert_non_null(strstr(errs.msg[0], "non-ASCII"));
  bw_errs_clear(&errs);

  m.from = "a@b";
  m.n_to = 0;
  assert_null(bw_mail_compose(&m, NOW_US, &errs));
  assert_non_null(strstr(errs.msg[0], "no recipient"));
  bw_errs_clear(&errs);
}

/* Lines of every length around the limit, with an escape at each position. */
static int b64_value(char c) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *p = strchr(tab, c);
  return c && p ? (int)(p - tab) : -1;
}

/* Base64 lines up to the next boundary line, decoded; every line at most 76 characters. */
static size_t b64_decode(const char *s, const char *end, unsigned char *out) {
  size_t n = 0, bits = 0;
  uint32_t acc = 0;
  for (; s < end; s++) {
    if (*s == '\r' || *s == '\n' || *s == '=')
      continue;
    int v = b64_value(*s);
    assert_true(v >= 0);
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (unsigned char)(acc >> bits);
    }
  }
  return n;
}

/* The HTML with its pictures: multipart/related inside the alternative, each picture base64
 * with its Content-ID, and the bytes come back exactly. */
static void inline_pictures(void **state) {
  struct bw_errs errs = {0};
  unsigned char a[1000], b[3];
  (void)state;
  for (size_t i = 0; i < sizeof(a); i++)
    a[i] = (unsigned char)(i * 7);
  memcpy(b, "\x89PN", 3);
  struct bw_mail_inline pics[] = {{"chart1.x@benchwatch", "image/png", "chart1.png", a, sizeof(a)},
                                  {"chart2.x@benchwatch", "image/png", "chart2.png", b, 3}};
  struct bw_mail_message m = {
      "a@b", two_to, 2, "s", "text", "<img src=\"cid:chart1.x@benchwatch\">", "host", pics, 2};
  char *msg = bw_mail_compose(&m, NOW_US, &errs);
  assert_non_null(msg);
  assert_lines_ok(msg);
  char *h = headers_of(msg);
  assert_non_null(strstr(h, "\nContent-Type: multipart/alternative; boundary=\"=_bw_"));
  free(h);
  const char *rel = strstr(msg, "\r\nContent-Type: multipart/related; type=\"text/html\";\r\n"
                                " boundary=\"=_bwr_");
  assert_non_null(rel);
  /* The text part comes before the related part; the HTML opens the related part. */
  assert_true(strstr(msg, "Content-Type: text/plain") < rel);
  assert_true(strstr(msg, "Content-Type: text/html") > rel);
  for (size_t i = 0; i < 2; i++) {
    char want[256];
    (void)snprintf(want, sizeof(want),
                   "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
                   "Content-ID: <%s>\r\nContent-Disposition: inline;\r\n filename=\"%s\"\r\n\r\n",
                   pics[i].cid, pics[i].filename);
    const char *body = strstr(msg, want);
    assert_non_null(body);
    body += strlen(want);
    const char *end = strstr(body, "\r\n--");
    assert_non_null(end);
    unsigned char got[1100];
    assert_int_equal(b64_decode(body, end, got), pics[i].len);
    assert_memory_equal(got, pics[i].data, pics[i].len);
  }
  assert_non_null(strstr(msg, "--\r\n--=_bw_")); /* the related part closes, then the outer */
  free(msg);
  /* A Content-ID that would break its header, and pictures without HTML: refused. */
  pics[1].cid = "a>b@x";
  assert_null(bw_mail_compose(&m, NOW_US, &errs));
  assert_non_null(strstr(errs.msg[0], "picture 2"));
  bw_errs_clear(&errs);
  pics[1].cid = "ok@x";
  m.html = NULL;
  assert_null(bw_mail_compose(&m, NOW_US, &errs));
  assert_non_null(strstr(errs.msg[0], "pictures without an HTML part"));
  bw_errs_clear(&errs);
}

static void qp_limits(void **state) {
  (void)state;
  for (size_t len = 60; len < 170; len++) {
    for (size_t at = 0; at < len; at += 7) {
      char *src = malloc(len + 1);
      for (size_t i = 0; i < len; i++)
        src[i] = (char)('a' + i % 26);
      src[at] = at % 2 ? '=' : (char)0xc3;
      if (at + 1 < len && at % 2 == 0)
        src[at + 1] = (char)0xa9;
      src[len - 1] = at % 3 ? ' ' : '.';
      src[len] = '\0';
      struct bw_buf b = {NULL, 0, 0};
      bw_mail_qp_encode(&b, src, len);
      bw_buf_add(&b, "\r\n", 2);
      assert_lines_ok(b.s);
      char *back = qp_decode(b.s, b.len - 2);
      assert_string_equal(back, src);
      free(back);
      free(b.s);
      free(src);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(structure_and_round_trip), cmocka_unit_test(message_ids_differ),
      cmocka_unit_test(subject_encoded_words),    cmocka_unit_test(many_recipients_fold),
      cmocka_unit_test(header_injection_refused), cmocka_unit_test(qp_limits),
      cmocka_unit_test(inline_pictures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
