#ifndef BW_MAIL_H
#define BW_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "bw_util.h"

/*
 * Mail messages as RFC 5322 + MIME text, ready for SMTP: pure composition, no I/O (sending is
 * bw_smtp_send() in bw_smtp). The output is 7-bit clean, every line is at most 78 characters
 * before its CRLF, and no line is a lone ".": it can go to any server as it is.
 *
 * Composed here, not with libcurl's curl_mime: a report is kept in the database as the finished
 * message and delivered, byte for byte the same, after retries and restarts, while curl_mime
 * only yields its bytes during the transfer that sends them. GMime would serialise it, but
 * brings GLib into the daemon for what is one multipart layout here.
 */

/* A picture the HTML shows in place: it refers to it as "cid:" followed by cid. */
struct bw_mail_inline {
  const char *cid;      /* the Content-ID without its <>: printable ASCII, e.g. "a1@host" */
  const char *type;     /* "image/png" */
  const char *filename; /* offered when a reader saves it: printable ASCII, no '"' */
  const unsigned char *data;
  size_t len;
};

struct bw_mail_message {
  const char *from;      /* "addr@host" or "Name <addr@host>": printable ASCII */
  const char *const *to; /* recipients, as from; at least one */
  size_t n_to;
  const char *subject;              /* UTF-8; encoded as RFC 2047 words when needed */
  const char *text;                 /* UTF-8 body; "\n" or "\r\n" end lines */
  const char *html;                 /* UTF-8 HTML alternative, or NULL for text/plain alone */
  const char *hostname;             /* right-hand side of the Message-ID */
  const struct bw_mail_inline *inl; /* the pictures the HTML shows (with html only) */
  size_t n_inline;
};

/*
 * Composes m as one message dated now_us (µs since the Unix epoch, written in UTC as "+0000"):
 * Date, From, To (folded), Subject, Message-ID (unique per call within a process), MIME-Version
 * and a multipart/alternative body of quoted-printable text/plain and text/html parts, CRLF line
 * endings throughout. With pictures, the HTML and they form a multipart/related part (RFC 2387)
 * in the place of the HTML alone: each picture base64 with its Content-ID, inline. Returns the
 * message (the caller frees it), or NULL with a message in errs when a header value holds CR, LF or
 * other control characters (header injection), an address or the hostname is not printable ASCII,
 * or a required field is missing.
 */
char *bw_mail_compose(const struct bw_mail_message *m, int64_t now_us, struct bw_errs *errs);

/*
 * Appends src (len bytes) to out as quoted-printable (RFC 2045 6.7): "\n" and "\r\n" become CRLF
 * hard line breaks, encoded lines are at most 76 characters, whitespace before a line break and
 * a "." opening a line are encoded.
 */
void bw_mail_qp_encode(struct bw_buf *out, const char *src, size_t len);

/* Appends src (len bytes) to out as base64 (RFC 4648), "\r\n" after every line_len characters
 * (a multiple of 4) and after the last, or on one line with no line break when line_len is 0. */
void bw_mail_base64(struct bw_buf *out, const unsigned char *src, size_t len, size_t line_len);

#endif
