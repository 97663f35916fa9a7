#include "bw_lean_parse.h"

#include <string.h>

/*
 * Where a head ends is where llhttp pauses: on_headers_complete returns HPE_PAUSED, and
 * llhttp_get_error_pos() is then the first byte after the head. A response without a body (HEAD,
 * 1xx, 204, 304) ends with its head, so on_message_complete's pause measures it instead. The
 * final response's on_message_complete pauses too, so that bytes after it are never parsed.
 */

static struct bw_lean_parse *self(llhttp_t *parser) {
  return parser->data;
}

static bool interim(long status) {
  return status >= 100 && status < 200 && status != 101;
}

static int on_message_begin(llhttp_t *parser) {
  struct bw_lean_parse *p = self(parser);
  p->status = 0;
  p->body_bytes = 0;
  p->content_length = -1;
  return 0;
}

static int on_headers_complete(llhttp_t *parser) {
  struct bw_lean_parse *p = self(parser);
  p->status = parser->status_code;
  p->http_major = parser->http_major;
  p->http_minor = parser->http_minor;
  if (parser->flags & F_CONTENT_LENGTH)
    p->content_length = (int64_t)parser->content_length;
  /* No body, whatever the headers say: the message-complete pause measures the head. */
  if (p->head || interim(p->status) || p->status == 204 || p->status == 304)
    return 1;
  return HPE_PAUSED;
}

static int on_body(llhttp_t *parser, const char *at, size_t len) {
  struct bw_lean_parse *p = self(parser);
  p->body_bytes += (int64_t)len;
  if (p->find)
    bw_find_feed(p->find, at, len);
  return 0;
}

static int on_message_complete(llhttp_t *parser) {
  struct bw_lean_parse *p = self(parser);
  if (interim(p->status))
    return 0;
  p->done = true;
  p->keep_alive = llhttp_should_keep_alive(parser) != 0;
  return HPE_PAUSED;
}

void bw_lean_parse_init(struct bw_lean_parse *p, bool head) {
  memset(p, 0, sizeof(*p));
  llhttp_settings_init(&p->settings);
  p->settings.on_message_begin = on_message_begin;
  p->settings.on_headers_complete = on_headers_complete;
  p->settings.on_body = on_body;
  p->settings.on_message_complete = on_message_complete;
  llhttp_init(&p->parser, HTTP_RESPONSE, &p->settings);
  p->parser.data = p;
  p->head = head;
  p->content_length = -1;
}

enum bw_lean_parse_state bw_lean_parse_feed(struct bw_lean_parse *p, const char *data, size_t len,
                                            size_t *used) {
  size_t off = 0;
  enum bw_lean_parse_state st = BW_LEAN_MORE;
  /* After a pause at the very end of the input the parser may still have a step to take without
   * a byte (a Content-Length: 0 response completes right after its head): run it on nothing. */
  bool paused = false;
  while ((off < len || paused) && !p->done) {
    paused = false;
    llhttp_errno_t e = llhttp_execute(&p->parser, data + off, len - off);
    if (e == HPE_OK) {
      p->consumed += (int64_t)(len - off);
      off = len;
      break;
    }
    if (e != HPE_PAUSED) {
      p->reason = llhttp_get_error_reason(&p->parser);
      st = BW_LEAN_PROTOCOL;
      break;
    }
    const char *pos = llhttp_get_error_pos(&p->parser);
    size_t n = (size_t)(pos - (data + off));
    p->consumed += (int64_t)n;
    off += n;
    /* A pause is the end of a head or of the response: either way the head is complete. */
    if (!interim(p->status) && !p->headers_done) {
      p->headers_done = true;
      p->header_bytes = p->consumed - p->body_bytes;
    }
    llhttp_resume(&p->parser);
    paused = true;
  }
  if (st == BW_LEAN_MORE && p->done)
    st = BW_LEAN_DONE;
  /* Interim heads count as they are read; the final head's size was fixed at its pause. */
  if (!p->headers_done && p->consumed > BW_LEAN_MAX_HEAD)
    st = BW_LEAN_TOO_LARGE;
  *used = off;
  return st;
}

enum bw_lean_parse_state bw_lean_parse_eof(struct bw_lean_parse *p) {
  if (p->done)
    return BW_LEAN_DONE;
  if (p->consumed == 0)
    return BW_LEAN_EMPTY;
  if (!p->headers_done)
    return BW_LEAN_PROTOCOL;
  /* A body that runs to the end of the connection ends here; a counted or chunked one is short. */
  (void)llhttp_finish(&p->parser); /* on_message_complete's pause is its answer when safe */
  if (p->done)
    return BW_LEAN_DONE;
  return BW_LEAN_LENGTH;
}
