#ifndef BW_FUZZ_CHECK_H
#define BW_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

/*
 * A property every input must keep. A broken one is a finding like a crash: it prints where and
 * aborts, and libFuzzer saves the input that did it (crash-<sha1>) for a regression test.
 */
#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);                  \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

#endif
