/* The client's network environment for a run (bw_env.h). */
#include "bw_env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bw_result.h"
#include "bw_util.h"

/* The text fields, by key; the numbers are handled by name below. */
static const struct {
  const char *key;
  size_t offset;
} texts[] = {
    {"if", offsetof(struct bw_env, ifname)},
    {"tcp_rmem", offsetof(struct bw_env, tcp_rmem)},
    {"tcp_wmem", offsetof(struct bw_env, tcp_wmem)},
    {"cc", offsetof(struct bw_env, tcp_cc)},
};
#define N_TEXTS (sizeof(texts) / sizeof(texts[0]))

static char *text_at(struct bw_env *e, size_t i) {
  return (char *)e + texts[i].offset;
}

static const char *ctext_at(const struct bw_env *e, size_t i) {
  return (const char *)e + texts[i].offset;
}

void bw_env_init(struct bw_env *env) {
  memset(env, 0, sizeof(*env));
  env->mtu = BW_NONE;
  env->tcp_timestamps = BW_NONE;
}

bool bw_env_empty(const struct bw_env *env) {
  for (size_t i = 0; i < N_TEXTS; i++)
    if (ctext_at(env, i)[0])
      return false;
  return env->mtu == BW_NONE && env->tcp_timestamps == BW_NONE;
}

/*
 * A sysctl's text with its runs of blanks made single commas, so that it is one token in the
 * env text; false (out untouched) when it is empty, does not fit, or holds anything but
 * printable non-blank characters and blanks.
 */
static bool squeeze(const char *in, char out[BW_ENV_TEXT_MAX]) {
  char tmp[BW_ENV_TEXT_MAX];
  size_t n = 0;
  bool gap = false;
  for (const char *p = in; *p; p++) {
    if (*p == ' ' || *p == '\t' || *p == '\n') {
      gap = n > 0;
      continue;
    }
    if (*p <= ' ' || *p > '~' || *p == ',' || *p == '=')
      return false;
    if (gap) {
      if (n + 1 >= sizeof(tmp))
        return false;
      tmp[n++] = ',';
      gap = false;
    }
    if (n + 1 >= sizeof(tmp))
      return false;
    tmp[n++] = *p;
  }
  if (n == 0)
    return false;
  tmp[n] = '\0';
  memcpy(out, tmp, n + 1);
  return true;
}

static bool parse_i64(const char *s, int64_t *ret) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 0)
    return false;
  *ret = (int64_t)v;
  return true;
}

/* The first line of proc_root/rel, squeezed; false when it cannot be read or is malformed. */
static bool read_sysctl(const char *proc_root, const char *rel, char out[BW_ENV_TEXT_MAX]) {
  char *path = bw_xasprintf("%s/%s", proc_root, rel);
  char line[256];
  bool ok = false;
  FILE *f = fopen(path, "re");
  free(path);
  if (!f)
    return false;
  if (fgets(line, sizeof(line), f) && strchr(line, '\n'))
    ok = squeeze(line, out);
  (void)fclose(f);
  return ok;
}

/* The interface holding local address sa, and its MTU through socket fd. */
static void route_interface(int fd, const struct sockaddr *sa, struct bw_env *ret) {
  struct ifaddrs *all = NULL;
  if (getifaddrs(&all) < 0)
    return;
  for (struct ifaddrs *i = all; i; i = i->ifa_next) {
    const struct sockaddr *a = i->ifa_addr;
    bool same = false;
    if (!a || a->sa_family != sa->sa_family || !i->ifa_name)
      continue;
    if (a->sa_family == AF_INET)
      same = ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
             ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
    else if (a->sa_family == AF_INET6)
      same = memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                    &((const struct sockaddr_in6 *)sa)->sin6_addr, sizeof(struct in6_addr)) == 0;
    if (!same || strlen(i->ifa_name) >= IFNAMSIZ)
      continue;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, i->ifa_name, strlen(i->ifa_name) + 1);
    (void)snprintf(ret->ifname, sizeof(ret->ifname), "%s", i->ifa_name);
    if (ioctl(fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
      ret->mtu = ifr.ifr_mtu;
    break;
  }
  freeifaddrs(all);
}

/* The route's interface and MTU towards ip: a connected UDP socket sends nothing. */
static void read_route(const char *ip, struct bw_env *ret) {
  struct sockaddr_storage to, local;
  socklen_t len;
  memset(&to, 0, sizeof(to));
  struct sockaddr_in *v4 = (struct sockaddr_in *)&to;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&to;
  if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(9);
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(9);
    len = sizeof(*v6);
  } else {
    return;
  }
  int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  socklen_t llen = sizeof(local);
  if (connect(fd, (struct sockaddr *)&to, len) == 0 &&
      getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
    route_interface(fd, (struct sockaddr *)&local, ret);
  (void)close(fd);
}

/*
 * The default congestion control without /proc (hidden from a service with ProcSubset=pid): a
 * new TCP socket starts with it.
 */
static void read_cc_socket(char out[BW_ENV_TEXT_MAX]) {
  char name[BW_ENV_TEXT_MAX];
  socklen_t len = sizeof(name) - 1;
  memset(name, 0, sizeof(name));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len) == 0)
    (void)squeeze(name, out);
  (void)close(fd);
}

void bw_env_read(const char *proc_root, const char *remote_ip, struct bw_env *ret) {
  char v[BW_ENV_TEXT_MAX];
  bw_env_init(ret);
  if (read_sysctl(proc_root, "sys/net/ipv4/tcp_timestamps", v))
    (void)parse_i64(v, &ret->tcp_timestamps);
  (void)read_sysctl(proc_root, "sys/net/ipv4/tcp_rmem", ret->tcp_rmem);
  (void)read_sysctl(proc_root, "sys/net/ipv4/tcp_wmem", ret->tcp_wmem);
  if (!read_sysctl(proc_root, "sys/net/ipv4/tcp_congestion_control", ret->tcp_cc))
    read_cc_socket(ret->tcp_cc);
  if (remote_ip)
    read_route(remote_ip, ret);
}

char *bw_env_format(const struct bw_env *env) {
  struct bw_buf b = {0};
  if (env->ifname[0])
    bw_buf_printf(&b, "if=%s", env->ifname);
  if (env->mtu != BW_NONE)
    bw_buf_printf(&b, "%smtu=%" PRId64, b.len ? " " : "", env->mtu);
  if (env->tcp_timestamps != BW_NONE)
    bw_buf_printf(&b, "%stcp_timestamps=%" PRId64, b.len ? " " : "", env->tcp_timestamps);
  for (size_t i = 1; i < N_TEXTS; i++)
    if (ctext_at(env, i)[0])
      bw_buf_printf(&b, "%s%s=%s", b.len ? " " : "", texts[i].key, ctext_at(env, i));
  return bw_buf_take(&b);
}

int bw_env_parse(const char *text, struct bw_env *ret) {
  struct bw_env e;
  bw_env_init(&e);
  const char *p = text;
  while (*p) {
    while (*p == ' ')
      p++;
    if (!*p)
      break;
    const char *end = strchr(p, ' ');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', n);
    if (!eq || eq == p || (size_t)(eq - p) + 1 >= n || n - (size_t)(eq - p) - 1 >= BW_ENV_TEXT_MAX)
      return -EINVAL;
    size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
    char val[BW_ENV_TEXT_MAX];
    memcpy(val, eq + 1, vlen);
    val[vlen] = '\0';
    if (klen == 3 && memcmp(p, "mtu", 3) == 0) {
      if (!parse_i64(val, &e.mtu))
        return -EINVAL;
    } else if (klen == 14 && memcmp(p, "tcp_timestamps", 14) == 0) {
      if (!parse_i64(val, &e.tcp_timestamps))
        return -EINVAL;
    } else {
      for (size_t i = 0; i < N_TEXTS; i++)
        if (strlen(texts[i].key) == klen && memcmp(p, texts[i].key, klen) == 0)
          memcpy(text_at(&e, i), val, vlen + 1);
    }
    p += n;
  }
  *ret = e;
  return 0;
}

bool bw_env_same(const struct bw_env *a, const struct bw_env *b) {
  if (a->mtu != b->mtu || a->tcp_timestamps != b->tcp_timestamps)
    return false;
  for (size_t i = 0; i < N_TEXTS; i++)
    if (strcmp(ctext_at(a, i), ctext_at(b, i)) != 0)
      return false;
  return true;
}

static void num_change(struct bw_buf *b, const char *what, int64_t x, int64_t y) {
  if (x != BW_NONE && y != BW_NONE && x != y)
    bw_buf_printf(b, "%s%s %" PRId64 " -> %" PRId64, b->len ? ", " : "", what, x, y);
}

char *bw_env_diff(const struct bw_env *a, const struct bw_env *b) {
  struct bw_buf out = {0};
  num_change(&out, "tcp_timestamps", a->tcp_timestamps, b->tcp_timestamps);
  if (a->ifname[0] && b->ifname[0] && strcmp(a->ifname, b->ifname) != 0)
    bw_buf_printf(&out, "%sinterface %s -> %s", out.len ? ", " : "", a->ifname, b->ifname);
  if (a->mtu != BW_NONE && b->mtu != BW_NONE && a->mtu != b->mtu)
    bw_buf_printf(&out, "%sMTU %" PRId64 " -> %" PRId64 "%s%s%s", out.len ? ", " : "", a->mtu,
                  b->mtu, b->ifname[0] ? " (" : "", b->ifname, b->ifname[0] ? ")" : "");
  for (size_t i = 1; i < N_TEXTS; i++) {
    const char *x = ctext_at(a, i), *y = ctext_at(b, i);
    if (x[0] && y[0] && strcmp(x, y) != 0)
      bw_buf_printf(&out, "%s%s %s -> %s", out.len ? ", " : "",
                    strcmp(texts[i].key, "cc") == 0 ? "congestion control" : texts[i].key, x, y);
  }
  if (!out.len) {
    free(out.s);
    return NULL;
  }
  return bw_buf_take(&out);
}
