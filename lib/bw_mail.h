#ifndef BW_MAIL_H
#define BW_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "bw_util.h"

/*
 * Mail messages as RFC 5322 + MIME text, ready for SMTP: pure composition, no I/O (sending is
 * bw_smtp_send() in bw_smtp). The output is 7-bit clean, every line is at most 78 characters
 * before its CRLF, and no line is a lone ".": it can go to any server as it is.
 */

struct bw_mail_message {
  const char *from;          /* "addr@host" or "Name <addr@host>": printable ASCII */
  const char *const *to;     /* recipients, as from; at least one */
  size_t n_to;
  const char *subject;       /* UTF-8; encoded as RFC 2047 words when needed */
  const char *text;          /* UTF-8 body; "\n" or "\r\n" end lines */
  const char *html;          /* UTF-8 HTML alternative, or NULL for text/plain alone */
  const char *hostname;      /* right-hand side of the Message-ID */
};

/*
 * Composes m as one message dated now_us (µs since the Unix epoch, written in UTC as "+0000"):
 * Date, From, To (folded), Subject, Message-ID (unique per call within a process), MIME-Version
 * and a multipart/alternative body of quoted-printable text/plain and text/html parts, CRLF line
 * endings throughout. Returns the message (the caller frees it), or NULL with a message in errs
 * when a header value holds CR, LF or other control characters (header injection), an address
 * or the hostname is not printable ASCII, or a required field is missing.
 */
char *bw_mail_compose(const struct bw_mail_message *m, int64_t now_us, struct bw_errs *errs);

/*
 * Appends src (len bytes) to out as quoted-printable (RFC 2045 6.7): "\n" and "\r\n" become CRLF
 * hard line breaks, encoded lines are at most 76 characters, whitespace before a line break and
 * a "." opening a line are encoded.
 */
void bw_mail_qp_encode(struct bw_buf *out, const char *src, size_t len);

#endif
