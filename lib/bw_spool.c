#include "bw_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Layout. Two header slots in separate sectors, written alternately, each with a generation and
 * a checksum: the newest valid one says where the oldest record is and which number it carries.
 * The ring starts at DATA_START. A record is a 24-byte header (magic, flags, number, length,
 * checksum over flags, number, length and payload) and its payload, padded to 8 bytes. Records
 * are numbered without gaps, so reading stops at the first place that does not hold the next
 * number: old records of an earlier lap, zeros, or a torn write. When a record does not fit before
 * the end of the file it goes to DATA_START, after a WRAP marker carrying its number (or without
 * one when fewer than 24 bytes remain). Order of writes: a header that drops records is on disk
 * before the bytes that overwrite them.
 */
#define SLOT0 0
#define SLOT1 512
#define SLOT_BYTES 48
#define DATA_START 4096
#define REC_HDR 24
#define REC_MAGIC UINT32_C(0x31525742) /* "BWR1" */
#define REC_WRAP 1u
#define SPOOL_MAGIC "BWSPOOL1"
#define ENCODING_VERSION 1
#define NULL_STR UINT32_MAX

struct bw_spool {
  int fd;
  char *path;
  int64_t size;
  uint64_t gen;
  int64_t head;      /* where the oldest record is (or, empty, where the next one goes) */
  uint64_t head_seq; /* its number */
  int64_t tail;      /* where the next record goes, before any wrap */
  uint64_t next_seq;
  size_t count;
  int64_t bytes;
};

/* ---- checksums and little-endian numbers ---- */

static uint32_t crc_table[256];

static void crc_init(void) {
  if (crc_table[1])
    return;
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? UINT32_C(0xEDB88320) ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

/* CRC-32 (the zlib and Ethernet one), continued from crc. */
static uint32_t crc32_add(uint32_t crc, const void *data, size_t n) {
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static void put_le(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* ---- the run as bytes ---- */

/* The run's texts besides the target's (the same as the run table's text columns). */
static const struct {
  const char *name;
  size_t offset;
} texts[] = {
    {"error_class", offsetof(struct bw_run, error_class)},
    {"error_message", offsetof(struct bw_run, error_message)},
    {"remote_ip", offsetof(struct bw_run, remote_ip)},
    {"http_version", offsetof(struct bw_run, http_version)},
    {"tcp_options", offsetof(struct bw_run, tcp_options)},
    {"env", offsetof(struct bw_run, env)},
    {"stream_rates", offsetof(struct bw_run, stream_rates)},
    {"engine", offsetof(struct bw_run, engine)},
};
#define N_TEXTS (sizeof(texts) / sizeof(texts[0]))

/* The sample's numbers, in this order; error_class follows them. */
static const size_t sample_ints[] = {
    offsetof(struct bw_sample, at_us),  offsetof(struct bw_sample, duration_us),
    offsetof(struct bw_sample, bytes),  offsetof(struct bw_sample, status),
    offsetof(struct bw_sample, dns_us), offsetof(struct bw_sample, connect_us),
    offsetof(struct bw_sample, tls_us), offsetof(struct bw_sample, ttfb_us),
};
#define N_SAMPLE_INTS (sizeof(sample_ints) / sizeof(sample_ints[0]))

static void enc_u(struct bw_buf *b, uint64_t v, int n) {
  unsigned char p[8];
  put_le(p, v, n);
  bw_buf_add(b, (const char *)p, (size_t)n);
}

static void enc_str(struct bw_buf *b, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (!s || n >= NULL_STR) {
    enc_u(b, NULL_STR, 4);
    return;
  }
  enc_u(b, n, 4);
  bw_buf_add(b, s, n);
}

static char *field_ptr(const void *base, size_t offset) {
  char *p;
  memcpy(&p, (const char *)base + offset, sizeof(p));
  return p;
}

static void set_field_ptr(void *base, size_t offset, char *p) {
  memcpy((char *)base + offset, &p, sizeof(p));
}

void bw_spool_encode(const struct bw_run *run, struct bw_buf *out) {
  size_t n_figs = 0;
  enc_u(out, ENCODING_VERSION, 1);
  enc_str(out, run->test);
  enc_str(out, run->backend);
  enc_str(out, bw_kind_name(run->kind));
  enc_str(out, run->url);
  enc_u(out, (uint64_t)run->started_us, 8);
  enc_str(out, bw_outcome_name(run->outcome));
  enc_u(out, N_TEXTS, 4);
  for (size_t i = 0; i < N_TEXTS; i++) {
    enc_str(out, texts[i].name);
    enc_str(out, field_ptr(run, texts[i].offset));
  }
  for (const struct bw_figure *f = bw_run_figures; f->name; f++)
    n_figs++;
  enc_u(out, n_figs, 4);
  for (const struct bw_figure *f = bw_run_figures; f->name; f++) {
    double v;
    int64_t i;
    enc_str(out, f->name);
    if (!bw_figure_get(f, run, &v)) {
      enc_u(out, 0, 1);
    } else if (f->real) {
      uint64_t bits;
      memcpy(&bits, &v, sizeof(bits));
      enc_u(out, 2, 1);
      enc_u(out, bits, 8);
    } else {
      memcpy(&i, (const char *)run + f->offset, sizeof(i));
      enc_u(out, 1, 1);
      enc_u(out, (uint64_t)i, 8);
    }
  }
  enc_u(out, run->n_samples, 4);
  for (size_t k = 0; k < run->n_samples; k++) {
    const struct bw_sample *s = &run->samples[k];
    for (size_t i = 0; i < N_SAMPLE_INTS; i++) {
      int64_t v;
      memcpy(&v, (const char *)s + sample_ints[i], sizeof(v));
      enc_u(out, (uint64_t)v, 8);
    }
    enc_str(out, s->error_class);
  }
}

struct reader {
  const unsigned char *p, *end;
  bool bad;
};

static uint64_t dec_u(struct reader *r, int n) {
  if (r->bad || r->end - r->p < n) {
    r->bad = true;
    return 0;
  }
  uint64_t v = get_le(r->p, n);
  r->p += n;
  return v;
}

/* A string, or NULL (for a NULL one or an error: r->bad tells them apart). */
static char *dec_str(struct reader *r) {
  uint64_t n = dec_u(r, 4);
  if (r->bad || n == NULL_STR)
    return NULL;
  if ((uint64_t)(r->end - r->p) < n) {
    r->bad = true;
    return NULL;
  }
  char *s = bw_xstrndup((const char *)r->p, (size_t)n);
  r->p += n;
  return s;
}

int bw_spool_decode(const void *data, size_t len, struct bw_run *ret) {
  struct reader r = {data, (const unsigned char *)data + len, false};
  struct bw_run run;
  char *name;
  uint64_t n;

  bw_run_init(&run);
  if (dec_u(&r, 1) != ENCODING_VERSION)
    return -EBADMSG;
  run.test = dec_str(&r);
  run.backend = dec_str(&r);
  name = dec_str(&r);
  if (!r.bad && bw_kind_parse(name, &run.kind) < 0)
    r.bad = true;
  free(name);
  run.url = dec_str(&r);
  run.started_us = (int64_t)dec_u(&r, 8);
  name = dec_str(&r);
  if (!r.bad && bw_outcome_parse(name, &run.outcome) < 0)
    r.bad = true;
  free(name);
  n = dec_u(&r, 4);
  for (uint64_t i = 0; i < n && !r.bad; i++) {
    name = dec_str(&r);
    char *value = dec_str(&r);
    size_t t = 0;
    while (name && t < N_TEXTS && strcmp(texts[t].name, name) != 0)
      t++;
    if (name && t < N_TEXTS && !field_ptr(&run, texts[t].offset)) {
      set_field_ptr(&run, texts[t].offset, value);
      value = NULL;
    }
    free(value);
    free(name);
  }
  n = dec_u(&r, 4);
  for (uint64_t i = 0; i < n && !r.bad; i++) {
    name = dec_str(&r);
    const struct bw_figure *f = name ? bw_figure_find(name) : NULL;
    uint64_t type = dec_u(&r, 1), bits = type ? dec_u(&r, 8) : 0;
    free(name);
    if (!f || type == 0)
      continue;
    if (type == 2) {
      double v;
      memcpy(&v, &bits, sizeof(v));
      bw_figure_set(f, &run, v);
    } else if (!f->real) {
      int64_t v = (int64_t)bits;
      memcpy((char *)&run + f->offset, &v, sizeof(v));
    } else {
      bw_figure_set(f, &run, (double)(int64_t)bits);
    }
  }
  n = dec_u(&r, 4);
  /* Each sample takes at least 68 bytes: a count beyond what is left is a lie. */
  if (!r.bad && n > (uint64_t)(r.end - r.p) / (8 * N_SAMPLE_INTS + 4))
    r.bad = true;
  for (uint64_t k = 0; k < n && !r.bad; k++) {
    struct bw_sample s;
    bw_sample_init(&s);
    for (size_t i = 0; i < N_SAMPLE_INTS; i++) {
      int64_t v = (int64_t)dec_u(&r, 8);
      memcpy((char *)&s + sample_ints[i], &v, sizeof(v));
    }
    s.error_class = dec_str(&r);
    if (!r.bad) {
      struct bw_sample *added = bw_run_add_sample(&run, &s);
      (void)added;
    }
    free(s.error_class);
  }
  if (r.bad || !run.test || !run.backend || !run.url) {
    bw_run_reset(&run);
    return -EBADMSG;
  }
  *ret = run;
  return 0;
}

/* ---- the file ---- */

static int full_pwrite(int fd, const void *buf, size_t n, int64_t off) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    p += w;
    n -= (size_t)w;
    off += w;
  }
  return 0;
}

/* Reads n bytes at off; -ENODATA when the file ends first. */
static int full_pread(int fd, void *buf, size_t n, int64_t off) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = pread(fd, p, n, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0)
      return -ENODATA;
    p += r;
    n -= (size_t)r;
    off += r;
  }
  return 0;
}

static int sync_file(struct bw_spool *s, struct bw_errs *errs) {
  while (fdatasync(s->fd) < 0) {
    if (errno == EINTR)
      continue;
    int r = -errno;
    bw_errs_add(errs, "%s: cannot sync the spool: %s", s->path, strerror(-r));
    return r;
  }
  return 0;
}

static int write_header(struct bw_spool *s, struct bw_errs *errs) {
  unsigned char slot[SLOT_BYTES] = {0};
  s->gen++;
  memcpy(slot, SPOOL_MAGIC, 8);
  put_le(slot + 8, s->gen, 8);
  put_le(slot + 16, (uint64_t)(s->count ? s->head : s->tail), 8);
  put_le(slot + 24, s->count ? s->head_seq : s->next_seq, 8);
  put_le(slot + 32, (uint64_t)s->size, 8);
  put_le(slot + 40, crc32_add(0, slot, 40), 4);
  int r = full_pwrite(s->fd, slot, sizeof(slot), s->gen % 2 ? SLOT1 : SLOT0);
  if (r < 0) {
    bw_errs_add(errs, "%s: cannot write the spool's header: %s", s->path, strerror(-r));
    return r;
  }
  return sync_file(s, errs);
}

/* Reads header slot at off: whether it is valid, and its fields. */
static bool read_slot(int fd, int64_t off, uint64_t *gen, int64_t *head, uint64_t *head_seq,
                      int64_t *size) {
  unsigned char slot[SLOT_BYTES];
  if (full_pread(fd, slot, sizeof(slot), off) < 0 || memcmp(slot, SPOOL_MAGIC, 8) != 0 ||
      get_le(slot + 40, 4) != crc32_add(0, slot, 40))
    return false;
  *gen = get_le(slot + 8, 8);
  *head = (int64_t)get_le(slot + 16, 8);
  *head_seq = get_le(slot + 24, 8);
  *size = (int64_t)get_le(slot + 32, 8);
  return true;
}

static int64_t rec_size(uint32_t len) {
  return ((int64_t)REC_HDR + len + 7) & ~INT64_C(7);
}

enum found { FOUND, FOUND_NOTHING, FOUND_TORN };

/*
 * Finds record number seq where it should be, at pos or, after a wrap, at DATA_START: *at gets
 * its position; with payload, the checked payload (malloc'ed) and its length. FOUND_TORN: the
 * record's header is there with the right number, but its length or checksum is wrong.
 */
static enum found find_record(struct bw_spool *s, int64_t pos, uint64_t seq, int64_t *at,
                              unsigned char **payload, uint32_t *ret_len) {
  unsigned char h[REC_HDR];
  for (int tries = 0; tries < 2; tries++) {
    if (s->size - pos < REC_HDR) {
      pos = DATA_START;
      continue;
    }
    if (full_pread(s->fd, h, sizeof(h), pos) < 0 || get_le(h, 4) != REC_MAGIC ||
        get_le(h + 8, 8) != seq)
      return FOUND_NOTHING;
    uint32_t flags = (uint32_t)get_le(h + 4, 4), len = (uint32_t)get_le(h + 16, 4);
    if (flags & REC_WRAP) {
      if (pos == DATA_START)
        return FOUND_NOTHING;
      pos = DATA_START;
      continue;
    }
    if (rec_size(len) > s->size - pos)
      return FOUND_TORN;
    unsigned char *p = bw_xmalloc((size_t)len + 1);
    if (full_pread(s->fd, p, len, pos + REC_HDR) < 0) {
      free(p);
      return FOUND_TORN;
    }
    uint32_t crc = crc32_add(0, h + 4, 16);
    crc = crc32_add(crc, p, len);
    if (crc != (uint32_t)get_le(h + 20, 4)) {
      free(p);
      return FOUND_TORN;
    }
    *at = pos;
    if (ret_len)
      *ret_len = len;
    if (payload)
      *payload = p;
    else
      free(p);
    return FOUND;
  }
  return FOUND_NOTHING;
}

/* Walks the records from the head: count, bytes, tail, next number; whether one was torn. */
static bool scan(struct bw_spool *s) {
  int64_t pos = s->head, at;
  uint64_t seq = s->head_seq;
  uint32_t len;
  enum found f;
  s->count = 0;
  s->bytes = 0;
  while ((f = find_record(s, pos, seq, &at, NULL, &len)) == FOUND) {
    if (s->count == 0)
      s->head = at;
    s->count++;
    s->bytes += rec_size(len);
    pos = at + rec_size(len);
    seq++;
  }
  s->tail = pos;
  s->next_seq = seq;
  return f == FOUND_TORN;
}

/* Makes the file size bytes long, allocated, and empty. */
static int init_file(struct bw_spool *s, int64_t size, uint64_t first_seq, struct bw_errs *errs) {
  int r;
  if (ftruncate(s->fd, (off_t)size) < 0) {
    r = -errno;
    bw_errs_add(errs, "%s: cannot size the spool: %s", s->path, strerror(-r));
    return r;
  }
  r = posix_fallocate(s->fd, 0, (off_t)size);
  if (r != 0) {
    bw_errs_add(errs, "%s: cannot allocate %lld bytes for the spool: %s", s->path, (long long)size,
                strerror(r));
    return -r;
  }
  s->size = size;
  s->head = s->tail = DATA_START;
  s->head_seq = s->next_seq = first_seq;
  s->count = 0;
  s->bytes = 0;
  /* Both slots, so that an old valid slot cannot outlive the new start. */
  r = write_header(s, errs);
  if (r == 0)
    r = write_header(s, errs);
  return r;
}

int bw_spool_open(const char *path, int64_t size, struct bw_spool **ret, struct bw_errs *warns,
                  struct bw_errs *errs) {
  struct bw_spool *s = bw_xcalloc(1, sizeof(*s));
  struct stat st;
  uint64_t gen[2] = {0, 0}, hseq[2] = {0, 0};
  int64_t head[2] = {0, 0}, fsize[2] = {0, 0};
  bool ok[2];
  int r;

  crc_init();
  if (size < BW_SPOOL_MIN_SIZE)
    size = BW_SPOOL_MIN_SIZE;
  s->path = bw_xstrdup(path);
  s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->fd < 0) {
    r = -errno;
    bw_errs_add(errs, "%s: cannot open the spool: %s", path, strerror(-r));
    goto fail;
  }
  if (fstat(s->fd, &st) < 0) {
    r = -errno;
    bw_errs_add(errs, "%s: cannot examine the spool: %s", path, strerror(-r));
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    bw_errs_add(errs, "%s: the spool is not a regular file", path);
    r = -EINVAL;
    goto fail;
  }
  if (st.st_size == 0) {
    r = init_file(s, size, 1, errs);
    if (r < 0)
      goto fail;
    *ret = s;
    return 0;
  }
  ok[0] = read_slot(s->fd, SLOT0, &gen[0], &head[0], &hseq[0], &fsize[0]);
  ok[1] = read_slot(s->fd, SLOT1, &gen[1], &head[1], &hseq[1], &fsize[1]);
  int k = ok[0] && ok[1] ? (gen[1] > gen[0]) : ok[1];
  if (!ok[k] || fsize[k] != (int64_t)st.st_size || head[k] < DATA_START || head[k] >= fsize[k]) {
    bw_errs_add(warns,
                "%s: not a spool this benchwatch can read (header damaged or size "
                "changed): starting it afresh",
                path);
    r = init_file(s, size, 1, errs);
    if (r < 0)
      goto fail;
    *ret = s;
    return 0;
  }
  s->size = fsize[k];
  s->gen = gen[k];
  s->head = head[k];
  s->head_seq = hseq[k];
  if (scan(s))
    bw_errs_add(warns,
                "%s: a record cut short (a crash while it was written) was discarded; "
                "%zu complete records kept",
                path, s->count);
  if (s->count == 0 && s->size != size) {
    r = init_file(s, size, s->next_seq, errs);
    if (r < 0)
      goto fail;
  } else if (s->size != size) {
    bw_errs_add(warns, "%s: keeps its size of %lld bytes until its %zu records are stored", path,
                (long long)s->size, s->count);
  }
  *ret = s;
  return 0;
fail:
  bw_spool_close(s);
  return r;
}

void bw_spool_close(struct bw_spool *s) {
  if (!s)
    return;
  if (s->fd >= 0)
    (void)close(s->fd);
  free(s->path);
  free(s);
}

size_t bw_spool_count(const struct bw_spool *s) {
  return s->count;
}

int64_t bw_spool_bytes(const struct bw_spool *s) {
  return s->bytes;
}

const char *bw_spool_path(const struct bw_spool *s) {
  return s->path;
}

/* Where a record of n bytes goes (*pos), if the ring has room for it now. */
static bool room(const struct bw_spool *s, int64_t n, int64_t *pos) {
  if (s->count == 0) {
    *pos = s->size - s->tail >= n ? s->tail : DATA_START;
    return true;
  }
  if (s->head < s->tail) {
    if (s->size - s->tail >= n) {
      *pos = s->tail;
      return true;
    }
    *pos = DATA_START;
    return DATA_START + n <= s->head;
  }
  *pos = s->tail;
  return s->tail + n <= s->head;
}

/* Takes the oldest record off the ring (in memory; the caller writes the header). */
static int drop_head(struct bw_spool *s, struct bw_run *ret, struct bw_errs *errs) {
  unsigned char *p = NULL;
  uint32_t len = 0;
  int64_t at;
  if (s->count == 0)
    return -ENOENT;
  if (find_record(s, s->head, s->head_seq, &at, ret ? &p : NULL, &len) != FOUND) {
    bw_errs_add(errs, "%s: the spool's oldest record cannot be read back", s->path);
    return -EIO;
  }
  if (ret && bw_spool_decode(p, len, ret) < 0)
    bw_run_init(ret);
  free(p);
  s->count--;
  s->bytes -= rec_size(len);
  s->head_seq++;
  if (s->count == 0) {
    s->head = s->tail;
    return 0;
  }
  if (find_record(s, at + rec_size(len), s->head_seq, &s->head, NULL, NULL) != FOUND) {
    bw_errs_add(errs, "%s: the spool's records do not follow each other", s->path);
    return -EIO;
  }
  return 0;
}

int bw_spool_push(struct bw_spool *s, const struct bw_run *run, struct bw_run **lost,
                  size_t *n_lost, struct bw_errs *errs) {
  struct bw_buf b = {0};
  size_t cap = *n_lost;
  int64_t pos = 0;
  bool dropped = false;
  int r = 0;

  bw_buf_add(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", REC_HDR);
  bw_spool_encode(run, &b);
  size_t len = b.len - REC_HDR;
  int64_t n = len < UINT32_MAX ? rec_size((uint32_t)len) : INT64_MAX;
  if (n > s->size - DATA_START) {
    bw_errs_add(errs, "%s: a run of %zu bytes does not fit in the spool of %lld bytes", s->path,
                len, (long long)s->size);
    r = -EFBIG;
    goto out;
  }
  while (!room(s, n, &pos)) {
    bw_xgrow(lost, &cap, *n_lost + 1, sizeof(**lost));
    r = drop_head(s, &(*lost)[*n_lost], errs);
    if (r < 0)
      goto out;
    (*n_lost)++;
    dropped = true;
  }
  /* The header that gives up the dropped records must be on disk before they are overwritten. */
  if (dropped) {
    r = write_header(s, errs);
    if (r < 0)
      goto out;
  }
  unsigned char *h = (unsigned char *)b.s;
  if (pos != s->tail && s->size - s->tail >= REC_HDR) {
    unsigned char wrap[REC_HDR] = {0};
    put_le(wrap, REC_MAGIC, 4);
    put_le(wrap + 4, REC_WRAP, 4);
    put_le(wrap + 8, s->next_seq, 8);
    put_le(wrap + 20, crc32_add(0, wrap + 4, 16), 4);
    r = full_pwrite(s->fd, wrap, sizeof(wrap), s->tail);
  }
  put_le(h, REC_MAGIC, 4);
  put_le(h + 4, 0, 4);
  put_le(h + 8, s->next_seq, 8);
  put_le(h + 16, len, 4);
  uint32_t crc = crc32_add(0, h + 4, 16);
  put_le(h + 20, crc32_add(crc, h + REC_HDR, len), 4);
  while ((int64_t)b.len < n)
    bw_buf_add(&b, "", 1); /* the padding: the ring's next record starts 8-aligned */
  if (r == 0)
    r = full_pwrite(s->fd, b.s, (size_t)n, pos);
  if (r < 0) {
    bw_errs_add(errs, "%s: cannot write to the spool: %s", s->path, strerror(-r));
    goto out;
  }
  r = sync_file(s, errs);
  if (r < 0)
    goto out;
  if (s->count == 0)
    s->head = pos;
  s->tail = pos + n;
  s->count++;
  s->bytes += n;
  s->next_seq++;
out:
  free(b.s);
  return r;
}

int bw_spool_peek(struct bw_spool *s, struct bw_run *ret, struct bw_errs *errs) {
  unsigned char *p = NULL;
  uint32_t len = 0;
  int64_t at;
  if (s->count == 0)
    return -ENOENT;
  if (find_record(s, s->head, s->head_seq, &at, &p, &len) != FOUND) {
    bw_errs_add(errs, "%s: the spool's oldest record cannot be read back", s->path);
    return -EIO;
  }
  int r = bw_spool_decode(p, len, ret);
  free(p);
  if (r < 0)
    bw_errs_add(errs, "%s: the spool's oldest record is not a run this benchwatch can read",
                s->path);
  return r < 0 ? -EIO : 0;
}

int bw_spool_pop(struct bw_spool *s, struct bw_errs *errs) {
  int r = drop_head(s, NULL, errs);
  if (r < 0)
    return r;
  return write_header(s, errs);
}
