#ifndef BW_SMTP_H
#define BW_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_loop.h"
#include "bw_util.h"

/*
 * One message to send over SMTP. Strings and the message bytes are copied by bw_smtp_send(); the
 * struct need not outlive the call.
 */
struct bw_smtp {
  const char *url;         /* smtp://host:port, or smtps://host:port (TLS from the start) */
  const char *tls;         /* smtp://: "none", "opportunistic" (STARTTLS when offered; the
                              default when NULL) or "required" (fail without STARTTLS). With
                              a username, opportunistic means required: AUTH goes in clear
                              only with an explicit "none". */
  bool tls_verify;         /* check the server's certificate and name */
  const char *username;    /* NULL: no AUTH */
  const char *password;    /* NULL with a username: an empty password. Never in any message. */
  const char *from;        /* envelope sender, a bare address */
  const char *const *rcpt; /* envelope recipients, bare addresses */
  size_t n_rcpt;
  const char *message; /* the whole message (bw_mail_compose()), CRLF lines */
  size_t message_len;
  int64_t timeout_us; /* the whole delivery; 0: none */
};

/* code: 0 when the server accepted the message, else curl's error code; error: "" or one line. */
typedef void (*bw_smtp_done_fn)(void *arg, int code, const char *error);

/*
 * Starts delivering s on the loop, alongside every other transfer. done is called exactly once,
 * from inside bw_loop_run(), with the outcome in curl's words (a missing STARTTLS is explained:
 * "the server offers no STARTTLS; the password is not sent in clear ..."). Returns 0, or -errno
 * with nothing started and a message in errs (a bad tls value, no recipient, curl refusing an
 * option).
 */
int bw_smtp_send(struct bw_loop *loop, const struct bw_smtp *s, bw_smtp_done_fn done, void *arg,
                 struct bw_errs *errs);

/*
 * Delivers s on a private loop and returns when it is done, for the command line: 0, or -EIO with
 * the server's URL and curl's words in errs (or the -errno of bw_smtp_send()).
 */
int bw_smtp_send_blocking(const struct bw_smtp *s, struct bw_errs *errs);

/*
 * Reads a password: the first line of the file name, without its line ending. A bare name is a
 * systemd credential when $CREDENTIALS_DIRECTORY is set (bw_file_secret_path()). A file its group
 * or everyone may read is refused (bw_file_read_private()). Returns 0 with *ret (the caller frees
 * it), or -errno with a message naming the file, never the contents.
 */
int bw_smtp_read_password(const char *name, char **ret, struct bw_errs *errs);

#endif
