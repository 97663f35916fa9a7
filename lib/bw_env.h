/*
 * The client's network environment for a run: the settings the founding incident was found by
 * diffing (the MTU of the interface towards the target, net.ipv4.tcp_timestamps, tcp_rmem,
 * tcp_wmem, the congestion control). Kept with a run as one text, "if=br0 mtu=9000
 * tcp_timestamps=1 tcp_rmem=4096,131072,6291456 tcp_wmem=4096,16384,4194304 cc=cubic", and
 * stored by the store in its env table only when it changed.
 *
 * What it can tell: this host's side, as the kernel had it just after the run, in the network
 * namespace the program runs in. What it cannot: the server's settings or any hop's MTU (a
 * 1500-byte bridge between two 9000-byte hosts is invisible here: see the run's MSS facts), a
 * per-route `mtu` attribute, or the interface when the source address the kernel picks sits on
 * another interface than the route's (a source on a dummy or loopback device).
 */
#ifndef BW_ENV_H
#define BW_ENV_H

#include <stdbool.h>
#include <stdint.h>

/* A sysctl's text, whitespace collapsed to commas: "4096,131072,6291456". */
#define BW_ENV_TEXT_MAX 64

/* Every field unknown: "" or BW_NONE (bw_env_init). */
struct bw_env {
  char ifname[BW_ENV_TEXT_MAX]; /* the interface the route to the target leaves by */
  int64_t mtu;                  /* that interface's MTU, bytes */
  int64_t tcp_timestamps;       /* net.ipv4.tcp_timestamps: 0, 1 or 2 */
  char tcp_rmem[BW_ENV_TEXT_MAX];
  char tcp_wmem[BW_ENV_TEXT_MAX];
  char tcp_cc[BW_ENV_TEXT_MAX]; /* net.ipv4.tcp_congestion_control */
};

/* Sets every field to unknown. */
void bw_env_init(struct bw_env *env);

/* Whether nothing at all is known. */
bool bw_env_empty(const struct bw_env *env);

/*
 * Reads the environment towards remote_ip (an IPv4 or IPv6 address; NULL or unparsable: no
 * interface or MTU): the sysctls under proc_root ("/proc" on a real system; a test passes a
 * directory of its own; the congestion control, when unreadable there, is asked of a new TCP
 * socket) and the interface of the route by a connected UDP socket (no packet is
 * sent), its local address found among getifaddrs(), its MTU by SIOCGIFMTU. A fact that cannot
 * be read stays unknown; never fails.
 */
void bw_env_read(const char *proc_root, const char *remote_ip, struct bw_env *ret);

/* The environment as one text (see above), only the known fields; "" when none. Caller frees. */
char *bw_env_format(const struct bw_env *env);

/*
 * Parses bw_env_format()'s text into ret (unknown keys are skipped, so older programs read newer
 * texts). Returns 0, or -EINVAL on a malformed pair, with ret untouched.
 */
int bw_env_parse(const char *text, struct bw_env *ret);

/*
 * What changed from a to b, for people: "tcp_timestamps 1 -> 0, MTU 1500 -> 9000 (eth0)"; NULL
 * when no field known on both sides differs (a fact that became unknown is not a change).
 * Caller frees.
 */
char *bw_env_diff(const struct bw_env *a, const struct bw_env *b);

/* Whether a and b hold the same facts, unknowns included (what the store compares). */
bool bw_env_same(const struct bw_env *a, const struct bw_env *b);

#endif
