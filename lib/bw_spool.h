#ifndef BW_SPOOL_H
#define BW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "bw_result.h"
#include "bw_util.h"

/*
 * Runs that the database could not take yet, kept on disk in order until it can: a crash-safe
 * ring in one file of a fixed size, allocated in full when it is created, so that a disk that
 * fills up later still has room for the spool. Records are length-prefixed, numbered and
 * checksummed; each is on disk (fdatasync) before bw_spool_push() returns. A record cut short by
 * a crash (kill -9, power loss) fails its checksum and is discarded when the file is opened again;
 * every complete record survives. When the ring is full the oldest records make room and are
 * handed back to the caller as lost.
 *
 * The file: two header slots (the newer valid one counts; a torn header write leaves the other),
 * then the ring. Not thread-safe: one thread uses a spool at a time.
 */
struct bw_spool;

/* The smallest and default sizes of a spool file, in bytes. */
#define BW_SPOOL_MIN_SIZE (64 * 1024)
#define BW_SPOOL_DEFAULT_SIZE (16 * 1024 * 1024)

/*
 * Opens the spool at path, creating it with size bytes (at least BW_SPOOL_MIN_SIZE) allocated on
 * disk, or finding the records a previous process left. An existing spool keeps its own size when
 * it holds records and takes the new one when empty. What was found damaged (a torn last record, a
 * header that had to be rebuilt) is described in warns; the records before it are kept. Returns 0
 * with *ret, or -errno with one sentence naming the file in errs (-ENOSPC when the disk has no
 * room for it).
 */
int bw_spool_open(const char *path, int64_t size, struct bw_spool **ret, struct bw_errs *warns,
                  struct bw_errs *errs);

/* Closes the spool; its records stay in the file for the next bw_spool_open(). NULL-safe. */
void bw_spool_close(struct bw_spool *s);

/* Records in the spool, and the bytes they take. */
size_t bw_spool_count(const struct bw_spool *s);
int64_t bw_spool_bytes(const struct bw_spool *s);
/* The file's path. */
const char *bw_spool_path(const struct bw_spool *s);

/*
 * Appends run (copied: its samples too) as the newest record and syncs it to disk. When the ring
 * has no room, the oldest records are dropped first: they are appended to *lost (a growing array
 * of *n_lost runs, the caller resets and frees them). Returns 0; -EFBIG when run alone does not
 * fit in the spool (nothing is dropped); -EIO or another -errno from the file, with a message in
 * errs.
 */
int bw_spool_push(struct bw_spool *s, const struct bw_run *run, struct bw_run **lost,
                  size_t *n_lost, struct bw_errs *errs);

/*
 * Reads the oldest record into *ret (bw_run_init()ed by the call; the caller resets it) without
 * removing it. Returns 0, -ENOENT when the spool is empty, or -EIO with a message.
 */
int bw_spool_peek(struct bw_spool *s, struct bw_run *ret, struct bw_errs *errs);

/* Removes the oldest record, on disk before it returns. Returns 0, -ENOENT, or -errno. */
int bw_spool_pop(struct bw_spool *s, struct bw_errs *errs);

/*
 * A run as a spool record's payload and back: the figures of bw_run_figures and the texts by
 * name (a name the reader does not know is skipped, one it misses stays unmeasured), then the
 * samples. bw_spool_decode() returns 0 or -EBADMSG for bytes that are not such a payload.
 */
void bw_spool_encode(const struct bw_run *run, struct bw_buf *out);
int bw_spool_decode(const void *data, size_t len, struct bw_run *ret);

#endif
