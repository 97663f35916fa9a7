/* The client's network environment: its text, what counts as a change, and the reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bw_env.h"
#include "bw_result.h"

static void archive_env(struct bw_env *e) {
  bw_env_init(e);
  (void)snprintf(e->ifname, sizeof(e->ifname), "eth0");
  e->mtu = 9000;
  e->tcp_timestamps = 1;
  (void)snprintf(e->tcp_rmem, sizeof(e->tcp_rmem), "4096,131072,6291456");
  (void)snprintf(e->tcp_wmem, sizeof(e->tcp_wmem), "4096,16384,4194304");
  (void)snprintf(e->tcp_cc, sizeof(e->tcp_cc), "cubic");
}

/* The text names every known fact and reads back to the same environment. */
static void format_parse_round_trip(void **state) {
  struct bw_env e, back;
  (void)state;
  archive_env(&e);
  char *text = bw_env_format(&e);
  assert_string_equal(text, "if=eth0 mtu=9000 tcp_timestamps=1 tcp_rmem=4096,131072,6291456 "
                            "tcp_wmem=4096,16384,4194304 cc=cubic");
  assert_int_equal(bw_env_parse(text, &back), 0);
  assert_true(bw_env_same(&e, &back));
  free(text);
}

/* Unknown facts are left out of the text, and an empty environment is "". */
static void unknowns_are_left_out(void **state) {
  struct bw_env e, back;
  (void)state;
  bw_env_init(&e);
  assert_true(bw_env_empty(&e));
  char *text = bw_env_format(&e);
  assert_string_equal(text, "");
  free(text);
  e.tcp_timestamps = 0; /* 0 is a fact, not "unknown" */
  assert_false(bw_env_empty(&e));
  text = bw_env_format(&e);
  assert_string_equal(text, "tcp_timestamps=0");
  assert_int_equal(bw_env_parse(text, &back), 0);
  assert_int_equal(back.tcp_timestamps, 0);
  assert_int_equal(back.mtu, BW_NONE);
  assert_string_equal(back.ifname, "");
  free(text);
}

/* Malformed pairs are refused without touching the result; unknown keys are skipped. */
static void parse_refuses_malformed(void **state) {
  struct bw_env e;
  static const char *bad[] = {"mtu", "=9000", "mtu=", "mtu=9k", "tcp_timestamps=-1", "mtu=9000 cc"};
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    archive_env(&e);
    assert_int_equal(bw_env_parse(bad[i], &e), -EINVAL);
    assert_int_equal(e.mtu, 9000); /* untouched */
  }
  char longer[200];
  (void)snprintf(longer, sizeof(longer), "cc=%0120d", 7);
  assert_int_equal(bw_env_parse(longer, &e), -EINVAL); /* would not fit: never cut short */
  assert_int_equal(bw_env_parse("newer_fact=1 mtu=1500", &e), 0);
  assert_int_equal(e.mtu, 1500);
}

/* The sysctl diff the founding team did by hand, in one line. */
static void diff_says_what_changed(void **state) {
  struct bw_env good, bad;
  (void)state;
  archive_env(&good);
  archive_env(&bad);
  assert_null(bw_env_diff(&good, &bad));
  assert_true(bw_env_same(&good, &bad));
  bad.tcp_timestamps = 0;
  bad.mtu = 1500;
  (void)snprintf(bad.tcp_cc, sizeof(bad.tcp_cc), "bbr");
  char *d = bw_env_diff(&good, &bad);
  assert_string_equal(d, "tcp_timestamps 1 -> 0, MTU 9000 -> 1500 (eth0), "
                         "congestion control cubic -> bbr");
  free(d);
  assert_false(bw_env_same(&good, &bad));
  /* A fact that became unknown is no change to speak of, but it is a different record. */
  archive_env(&bad);
  bad.mtu = BW_NONE;
  assert_null(bw_env_diff(&good, &bad));
  assert_false(bw_env_same(&good, &bad));
}

static void put_file(const char *dir, const char *name, const char *text) {
  char path[512];
  (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  (void)fputs(text, f);
  (void)fclose(f);
}

/* The reader: sysctls from a proc tree, blanks made commas; a missing or oversized one unknown. */
static void read_sysctls(void **state) {
  char root[] = "/tmp/bw-env-XXXXXX";
  char dir[600];
  struct bw_env e;
  (void)state;
  assert_non_null(mkdtemp(root));
  (void)snprintf(dir, sizeof(dir), "%s/sys", root);
  assert_int_equal(mkdir(dir, 0700), 0);
  (void)snprintf(dir, sizeof(dir), "%s/sys/net", root);
  assert_int_equal(mkdir(dir, 0700), 0);
  (void)snprintf(dir, sizeof(dir), "%s/sys/net/ipv4", root);
  assert_int_equal(mkdir(dir, 0700), 0);
  put_file(dir, "tcp_timestamps", "0\n");
  put_file(dir, "tcp_rmem", "4096\t131072\t6291456\n");
  put_file(dir, "tcp_congestion_control", "cubic\n");
  char big[300];
  memset(big, '9', 200);
  big[200] = '\n';
  big[201] = '\0';
  put_file(dir, "tcp_wmem", big);
  bw_env_read(root, NULL, &e);
  assert_int_equal(e.tcp_timestamps, 0);
  assert_string_equal(e.tcp_rmem, "4096,131072,6291456");
  assert_string_equal(e.tcp_cc, "cubic");
  assert_string_equal(e.tcp_wmem, ""); /* too long to keep whole: unknown */
  assert_string_equal(e.ifname, "");   /* no address: no route to ask about */
  assert_int_equal(e.mtu, BW_NONE);
  /* No /proc (a service with ProcSubset=pid): the sysctls unknown, no failure; the congestion
   * control still known, from a new socket, the same as the kernel's setting. */
  bw_env_read("/nonexistent-bw-env", "not an address", &e);
  assert_int_equal(e.tcp_timestamps, BW_NONE);
  assert_string_equal(e.tcp_rmem, "");
  assert_string_equal(e.ifname, "");
  struct bw_env real;
  bw_env_read("/proc", NULL, &real);
  assert_true(real.tcp_cc[0] != '\0');
  assert_string_equal(e.tcp_cc, real.tcp_cc);
  const char *names[] = {"tcp_timestamps", "tcp_rmem", "tcp_wmem", "tcp_congestion_control"};
  char path[700];
  for (size_t i = 0; i < 4; i++) {
    (void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    (void)unlink(path);
  }
  (void)rmdir(dir);
  (void)snprintf(dir, sizeof(dir), "%s/sys/net", root);
  (void)rmdir(dir);
  (void)snprintf(dir, sizeof(dir), "%s/sys", root);
  (void)rmdir(dir);
  (void)rmdir(root);
}

/* The route's interface: loopback for 127.0.0.1, with the MTU the kernel gives lo. */
static void read_route_interface(void **state) {
  struct bw_env e;
  struct ifreq ifr;
  (void)state;
  bw_env_read("/proc", "127.0.0.1", &e);
  assert_string_equal(e.ifname, "lo");
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, "lo", 3);
  assert_int_equal(ioctl(fd, SIOCGIFMTU, &ifr), 0);
  (void)close(fd);
  assert_int_equal(e.mtu, ifr.ifr_mtu);
  assert_true(e.mtu > 1500);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(format_parse_round_trip),
      cmocka_unit_test(unknowns_are_left_out),
      cmocka_unit_test(parse_refuses_malformed),
      cmocka_unit_test(diff_says_what_changed),
      cmocka_unit_test(read_sysctls),
      cmocka_unit_test(read_route_interface),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
