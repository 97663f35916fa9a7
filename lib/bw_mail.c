#include "bw_mail.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* RFC 5322 2.1.1: at most 78 characters on a line, not counting the CRLF. */
#define LINE_MAX_CHARS 78
/* RFC 2045 6.7 rule 5: encoded lines at most 76 characters, the soft break's "=" included. */
#define QP_LINE 76
/* RFC 2047: bytes of UTF-8 per B-encoded word; 4 * 39 / 3 = 52 characters, 64 with "=?UTF-8?B?"
 * and "?=", so "Subject: " and a word fit on one line. */
#define WORD_BYTES 39

static const char hex[] = "0123456789ABCDEF";

/* ---- checks ---- */

/* A header value must not carry a line break (header injection) or any other control byte. */
static bool clean_header(const char *s, bool ascii_only) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p < 0x20 || *p == 0x7f)
      return false;
    if (ascii_only && *p > 0x7e)
      return false;
  }
  return true;
}

static int check_field(const char *what, const char *s, bool ascii_only, struct bw_errs *errs) {
  if (!s || !*s) {
    bw_errs_add(errs, "mail: %s is missing", what);
    return -EINVAL;
  }
  if (strchr(s, '\r') || strchr(s, '\n')) {
    bw_errs_add(errs, "mail: %s contains a line break (CR or LF), refused", what);
    return -EINVAL;
  }
  if (!clean_header(s, ascii_only)) {
    bw_errs_add(errs, "mail: %s contains %s", what,
                ascii_only ? "control or non-ASCII characters" : "control characters");
    return -EINVAL;
  }
  return 0;
}

/* ---- quoted-printable ---- */

static void qp_token(const unsigned char c, bool encode, char tok[4], size_t *n) {
  if (encode) {
    tok[0] = '=';
    tok[1] = hex[c >> 4];
    tok[2] = hex[c & 15];
    *n = 3;
  } else {
    tok[0] = (char)c;
    *n = 1;
  }
}

void bw_mail_qp_encode(struct bw_buf *out, const char *src, size_t len) {
  size_t col = 0;
  bw_buf_add(out, "", 0);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    if (c == '\n' || (c == '\r' && i + 1 < len && src[i + 1] == '\n')) {
      if (c == '\r')
        i++;
      bw_buf_add(out, "\r\n", 2);
      col = 0;
      continue;
    }
    /* Whitespace is literal unless it ends a line (where transports may strip it); "." opens a
     * line encoded, so no line of the body is ever SMTP's lone "." or needs dot-stuffing. */
    bool at_eol = i + 1 == len || src[i + 1] == '\n' ||
                  (src[i + 1] == '\r' && i + 2 < len && src[i + 2] == '\n');
    bool encode;
    if (c == ' ' || c == '\t')
      encode = at_eol;
    else if (c == '.')
      encode = col == 0;
    else
      encode = c < 33 || c > 126 || c == '=';
    char tok[4];
    size_t n;
    qp_token(c, encode, tok, &n);
    /* A soft break leaves room for its own "=". After it the token opens a new line, so a "."
     * there must be encoded too, and whitespace is no longer at the end of an encoded line. */
    if (col + n > QP_LINE - 1 && !(at_eol && col + n <= QP_LINE)) {
      bw_buf_add(out, "=\r\n", 3);
      col = 0;
      if (c == '.')
        qp_token(c, true, tok, &n);
    }
    bw_buf_add(out, tok, n);
    col += n;
  }
}

/* ---- headers ---- */

static void add_date(struct bw_buf *b, int64_t now_us) {
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = (time_t)(now_us >= 0 ? now_us / 1000000 : (now_us - 999999) / 1000000);
  struct tm tm;
  if (!gmtime_r(&t, &tm))
    memset(&tm, 0, sizeof(tm));
  /* Fixed English names: strftime's %a and %b follow the locale, RFC 5322 does not. */
  bw_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday % 7],
                tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
}

/* "To: a, b": addresses joined by commas, folded before one that would pass 78 characters. */
static void add_addresses(struct bw_buf *b, const char *name, const char *const *list, size_t n) {
  size_t col = strlen(name) + 1;
  bw_buf_printf(b, "%s:", name);
  for (size_t i = 0; i < n; i++) {
    size_t need = 1 + strlen(list[i]) + (i + 1 < n ? 1 : 0);
    if (i > 0 && col + need > LINE_MAX_CHARS) {
      bw_buf_add(b, "\r\n", 2);
      col = 0;
    }
    bw_buf_printf(b, " %s%s", list[i], i + 1 < n ? "," : "");
    col += need;
  }
  bw_buf_add(b, "\r\n", 2);
}

static void base64(struct bw_buf *b, const unsigned char *s, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)s[i + 1] << 8;
    if (i + 2 < n)
      v |= s[i + 2];
    char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                 i + 2 < n ? tab[v & 63] : '='};
    bw_buf_add(b, q, 4);
  }
}

void bw_mail_base64(struct bw_buf *out, const unsigned char *src, size_t len, size_t line_len) {
  size_t step = line_len ? line_len / 4 * 3 : len;
  if (step == 0)
    step = 3;
  for (size_t i = 0; i < len; i += step) {
    base64(out, src + i, len - i < step ? len - i : step);
    if (line_len)
      bw_buf_add(out, "\r\n", 2);
  }
  bw_buf_add(out, "", 0);
}

/*
 * Subject: as it is when it is short printable ASCII that cannot be mistaken for an encoded word;
 * otherwise RFC 2047 B-encoded words, each on its own folded line, never splitting a UTF-8
 * character between two words (2047 section 5: each word must be a whole character sequence).
 */
static void add_subject(struct bw_buf *b, const char *s) {
  size_t len = strlen(s);
  bool plain = strlen("Subject: ") + len <= LINE_MAX_CHARS && !strstr(s, "=?");
  for (size_t i = 0; plain && i < len; i++)
    if ((unsigned char)s[i] > 0x7e)
      plain = false;
  if (plain) {
    bw_buf_printf(b, "Subject: %s\r\n", s);
    return;
  }
  bw_buf_add(b, "Subject:", 8);
  for (size_t i = 0; i < len;) {
    size_t n = len - i < WORD_BYTES ? len - i : WORD_BYTES;
    /* Back off to the start of a character: continuation bytes are 10xxxxxx. */
    while (n > 0 && i + n < len && ((unsigned char)s[i + n] & 0xc0) == 0x80)
      n--;
    if (n == 0)
      n = len - i < WORD_BYTES ? len - i : WORD_BYTES; /* not UTF-8: split anyway */
    if (i > 0)
      bw_buf_add(b, "\r\n", 2);
    bw_buf_add(b, " =?UTF-8?B?", 11);
    base64(b, (const unsigned char *)s + i, n);
    bw_buf_add(b, "?=", 2);
    i += n;
  }
  bw_buf_add(b, "\r\n", 2);
}

static void add_part(struct bw_buf *b, const char *boundary, const char *type, const char *body) {
  if (boundary)
    bw_buf_printf(b, "--%s\r\n", boundary);
  bw_buf_printf(b,
                "Content-Type: %s; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                type);
  bw_mail_qp_encode(b, body, strlen(body));
  bw_buf_add(b, "\r\n", 2);
}

/* The HTML and the pictures it shows, as one multipart/related part. */
static void add_related(struct bw_buf *b, const char *outer, const char *boundary,
                        const struct bw_mail_message *m) {
  bw_buf_printf(b,
                "--%s\r\nContent-Type: multipart/related; type=\"text/html\";\r\n"
                " boundary=\"%s\"\r\n\r\n",
                outer, boundary);
  add_part(b, boundary, "text/html", m->html);
  for (size_t i = 0; i < m->n_inline; i++) {
    const struct bw_mail_inline *p = &m->inl[i];
    bw_buf_printf(b,
                  "--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
                  "Content-ID: <%s>\r\nContent-Disposition: inline;\r\n filename=\"%s\"\r\n\r\n",
                  boundary, p->type, p->cid, p->filename);
    bw_mail_base64(b, p->data, p->len, 76);
  }
  bw_buf_printf(b, "--%s--\r\n", boundary);
}

char *bw_mail_compose(const struct bw_mail_message *m, int64_t now_us, struct bw_errs *errs) {
  static unsigned counter;
  struct bw_buf b = {NULL, 0, 0};
  char boundary[80];
  int r = 0;

  r |= check_field("from", m->from, true, errs);
  if (m->n_to == 0) {
    bw_errs_add(errs, "mail: no recipient");
    r = -EINVAL;
  }
  for (size_t i = 0; i < m->n_to; i++)
    r |= check_field("to", m->to[i], true, errs);
  r |= check_field("subject", m->subject, false, errs);
  r |= check_field("hostname", m->hostname, true, errs);
  if (!m->text) {
    bw_errs_add(errs, "mail: the text body is missing");
    r = -EINVAL;
  }
  if (m->n_inline && !m->html) {
    bw_errs_add(errs, "mail: pictures without an HTML part");
    r = -EINVAL;
  }
  for (size_t i = 0; i < m->n_inline; i++) {
    r |= check_field("picture's Content-ID", m->inl[i].cid, true, errs);
    r |= check_field("picture's type", m->inl[i].type, true, errs);
    r |= check_field("picture's file name", m->inl[i].filename, true, errs);
    if (r == 0 && (strpbrk(m->inl[i].cid, "<>\" ") || strchr(m->inl[i].filename, '"') ||
                   strlen(m->inl[i].cid) > 60 || strlen(m->inl[i].filename) > 60 ||
                   strlen(m->inl[i].type) > 40)) {
      bw_errs_add(errs,
                  "mail: picture %zu: a Content-ID, file name or type that does not fit a "
                  "header line",
                  i + 1);
      r = -EINVAL;
    }
  }
  if (r)
    return NULL;

  /* Unique within the process by the counter, across processes by the pid and the time. The
   * boundary starts "=_", which quoted-printable never produces, so no body line can match it. */
  counter++;
  uint64_t t = (uint64_t)now_us;
  unsigned pid = (unsigned)getpid();
  (void)snprintf(boundary, sizeof(boundary), "=_bw_%" PRIx64 "_%x_%x", t, pid, counter);

  add_date(&b, now_us);
  bw_buf_printf(&b, "From: %s\r\n", m->from);
  add_addresses(&b, "To", m->to, m->n_to);
  add_subject(&b, m->subject);
  char *id = bw_xasprintf("<%" PRIx64 ".%x.%x@%s>", t, pid, counter, m->hostname);
  /* A long hostname goes on a folded line of its own rather than past 78 characters. */
  bw_buf_printf(&b, "Message-ID:%s%s\r\n", strlen(id) + 12 > LINE_MAX_CHARS ? "\r\n " : " ", id);
  free(id);
  bw_buf_add(&b, "MIME-Version: 1.0\r\n", 19);
  if (!m->html) {
    add_part(&b, NULL, "text/plain", m->text);
    return bw_buf_take(&b);
  }
  bw_buf_printf(&b,
                "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n"
                "This is a message in MIME format: a plain text and an HTML version.\r\n\r\n",
                boundary);
  add_part(&b, boundary, "text/plain", m->text);
  if (m->n_inline) {
    /* Not the outer boundary with something after it: a parser may match on a prefix. */
    char related[96];
    (void)snprintf(related, sizeof(related), "=_bwr%s", boundary + 4);
    add_related(&b, boundary, related, m);
  } else {
    add_part(&b, boundary, "text/html", m->html);
  }
  bw_buf_printf(&b, "--%s--\r\n", boundary);
  return bw_buf_take(&b);
}
