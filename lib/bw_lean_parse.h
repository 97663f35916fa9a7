#ifndef BW_LEAN_PARSE_H
#define BW_LEAN_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "bw_check.h"

/*
 * The lean engine's reading of one HTTP/1.1 response, over llhttp (Node.js's parser, compiled in
 * from Debian's node-llhttp sources): what the engine needs to know of the bytes, and nothing of
 * sockets or clocks, so the fuzzer drives it exactly as the engine does.
 *
 * Feed the bytes as they arrive; the parser stops at the end of the response and says how many of
 * the bytes it took (any more belong to no request of ours). Interim 1xx responses are read and
 * counted in header_bytes, as curl counts them; the final response is the one reported.
 */

/* curl's CURL_MAX_HTTP_HEADER: a response head longer than this is refused. */
#define BW_LEAN_MAX_HEAD (100 * 1024)

enum bw_lean_parse_state {
  BW_LEAN_MORE,     /* the response is not complete yet */
  BW_LEAN_DONE,     /* the response is complete */
  BW_LEAN_EMPTY,    /* end of input before any byte of a response */
  BW_LEAN_LENGTH,   /* end of input inside the body: fewer bytes than announced */
  BW_LEAN_PROTOCOL, /* not HTTP/1.x, or malformed */
  BW_LEAN_TOO_LARGE /* the head is longer than BW_LEAN_MAX_HEAD */
};

struct bw_lean_parse {
  llhttp_t parser;
  llhttp_settings_t settings;
  bool head;         /* the request was HEAD: the response has no body, whatever it says */
  bool headers_done; /* the final response's head is complete */
  bool done;         /* the whole response is complete */
  long status;       /* of the final response; 0 before its status line */
  int http_major;    /* of the final response */
  int http_minor;
  bool keep_alive;        /* once done: the connection may carry another request */
  int64_t consumed;       /* bytes taken so far */
  int64_t header_bytes;   /* bytes of status lines and headers (interim ones too) */
  int64_t body_bytes;     /* body bytes, without chunked framing */
  int64_t content_length; /* announced, or -1 */
  const char *reason;     /* with BW_LEAN_PROTOCOL: llhttp's words */
  struct bw_find *find;   /* set after init to search the final response's body; NULL: none */
};

/* Readies p for a response to a GET (head false) or a HEAD (head true). */
void bw_lean_parse_init(struct bw_lean_parse *p, bool head);

/*
 * Reads len bytes of input. Returns BW_LEAN_MORE, BW_LEAN_DONE, BW_LEAN_PROTOCOL or
 * BW_LEAN_TOO_LARGE; *used is the number of bytes that belong to the response (all of them,
 * except after DONE).
 */
enum bw_lean_parse_state bw_lean_parse_feed(struct bw_lean_parse *p, const char *data, size_t len,
                                            size_t *used);

/* The connection ended: DONE for a body that ends with the connection, or why it is short. */
enum bw_lean_parse_state bw_lean_parse_eof(struct bw_lean_parse *p);

#endif
