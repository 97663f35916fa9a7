/*
 * libFuzzer harness for the lean engine's response path (bw_lean_parse: llhttp and the engine's
 * reading of it). The first byte is the request's: bit 7 says HEAD, the low bits where the rest
 * is cut into reads. The rest is what a server sent, fed in pieces as reads bring it, then the end
 * of the connection. Beyond memory errors and undefined behaviour it checks the engine's
 * promises: the pieces give the same answer as the whole, a response never takes more bytes than
 * were given, a complete one has a head, a status and (with a Content-Length) exactly that body.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bw_lean_parse.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds data in pieces of at most step bytes (0: whole), then the end; returns the final state. */
static enum bw_lean_parse_state read_all(struct bw_lean_parse *p, struct bw_find *find, bool head,
                                         const char *data, size_t size, size_t step,
                                         size_t *taken) {
  enum bw_lean_parse_state st = BW_LEAN_MORE;
  size_t off = 0;
  bw_lean_parse_init(p, head);
  p->find = find; /* an expect: body_contains search over the same body */
  *taken = 0;
  while (off < size && st == BW_LEAN_MORE) {
    size_t n = step && size - off > step ? step : size - off;
    size_t used = 0;
    st = bw_lean_parse_feed(p, data + off, n, &used);
    FUZZ_CHECK(used <= n);
    if (st == BW_LEAN_MORE)
      FUZZ_CHECK(used == n);
    *taken += used;
    off += n;
  }
  if (st == BW_LEAN_MORE)
    st = bw_lean_parse_eof(p);
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  bool head = data[0] & 0x80;
  size_t step = (size_t)(data[0] & 0x0f) + 1;
  const char *body = (const char *)data + 1;
  size_t len = size - 1;

  struct bw_lean_parse whole, pieces;
  struct bw_find find_whole, find_pieces;
  size_t taken_whole, taken_pieces;
  bw_find_init(&find_whole, "abcab");
  bw_find_init(&find_pieces, "abcab");
  enum bw_lean_parse_state a = read_all(&whole, &find_whole, head, body, len, 0, &taken_whole);
  enum bw_lean_parse_state b =
      read_all(&pieces, &find_pieces, head, body, len, step, &taken_pieces);
  /* Found or not, however the body was cut. */
  if (a == BW_LEAN_DONE)
    FUZZ_CHECK(find_whole.found == find_pieces.found);
  bw_find_free(&find_whole);
  bw_find_free(&find_pieces);

  FUZZ_CHECK(a != BW_LEAN_MORE);
  FUZZ_CHECK(taken_whole <= len);
  FUZZ_CHECK((int64_t)taken_whole == whole.consumed);
  /* How the bytes were cut never changes the answer. */
  FUZZ_CHECK(a == b);
  if (a == BW_LEAN_DONE) {
    FUZZ_CHECK(taken_whole == taken_pieces);
    FUZZ_CHECK(whole.status == pieces.status);
    FUZZ_CHECK(whole.header_bytes == pieces.header_bytes);
    FUZZ_CHECK(whole.body_bytes == pieces.body_bytes);
    FUZZ_CHECK(whole.keep_alive == pieces.keep_alive);
    /* A complete response has a head and a final status, and no more body than bytes. */
    FUZZ_CHECK(whole.headers_done);
    FUZZ_CHECK(whole.status < 100 || whole.status >= 200 || whole.status == 101);
    FUZZ_CHECK(whole.header_bytes > 0);
    FUZZ_CHECK(whole.header_bytes + whole.body_bytes <= whole.consumed);
    if (head || whole.status == 204 || whole.status == 304)
      FUZZ_CHECK(whole.body_bytes == 0);
    else if (whole.content_length >= 0 && !(whole.parser.flags & F_CHUNKED))
      FUZZ_CHECK(whole.body_bytes == whole.content_length);
  }
  if (a == BW_LEAN_EMPTY)
    FUZZ_CHECK(len == 0);
  return 0;
}
