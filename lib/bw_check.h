#ifndef BW_CHECK_H
#define BW_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A page test's response check (expect:), as pure logic both engines share: whether a status is
 * one of the expected, and whether a body that arrives in pieces of any size contains a text. The
 * search keeps only how much of the text the bytes so far end with (Knuth-Morris-Pratt), so it
 * costs one pass over the body and no copy of it.
 */

struct bw_find {
  char *needle; /* NULL: nothing to find */
  size_t len;
  size_t *next; /* len entries: the longest proper border of needle[0..i] */
  size_t at;    /* needle bytes matched by the end of the bytes fed */
  bool found;
};

/* Readies f to find needle (copied; NULL or "" finds at once). */
void bw_find_init(struct bw_find *f, const char *needle);
/* Starts over for the next body, keeping the needle. */
void bw_find_reset(struct bw_find *f);
/* Feeds the next n bytes of the body. */
void bw_find_feed(struct bw_find *f, const char *data, size_t n);
/* Frees what init took and leaves f finding nothing. NULL-safe. */
void bw_find_free(struct bw_find *f);

/* Whether status is in the list of statuses given as text ("200"); an empty list passes all. */
bool bw_check_status(long status, char *const *statuses, size_t n);

#endif
