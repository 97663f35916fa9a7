#ifndef BW_LEAN_H
#define BW_LEAN_H

#include <stdbool.h>

#include "bw_loop.h"
#include "bw_transfer.h"
#include "bw_util.h"

/*
 * The lean page engine: HTTP/1.1 over plain TCP or TLS (OpenSSL) straight on the loop's sockets,
 * one connection per slot, the request formatted once, responses read by llhttp
 * (bw_lean_parse.h). It does what a page test needs and nothing else, at about ab's cost per
 * request; libcurl (bw_xfer) stays the engine for everything else.
 *
 * The interface is bw_xfer's: the same struct bw_request in, the same struct bw_response out,
 * with curl's error classes and curl's cumulative phase times (namelookup, connect, appconnect,
 * pretransfer, starttransfer, total), all from bw_now_us(). A keep-alive connection that the
 * server closed while idle is opened again once, as curl does, before anything is reported.
 *
 * A request with connect_only (a connect test's) stops after the connect, or for https after a
 * full TLS handshake (no session resumed), closes the connection without sending anything, and
 * reports success with the connect and appconnect times.
 */

struct bw_lean;

/*
 * Whether the lean engine does req exactly as libcurl would: HTTP/1.1 to an http:// or https://
 * URL without user and password, no redirects, caps, silence timer, TCP_INFO or data callback.
 * When false, why (a short phrase) is in *why if why is not NULL.
 */
bool bw_lean_supports(const struct bw_request *req, const char **why);

struct bw_lean *bw_lean_new(struct bw_loop *loop);
/* Starts req on idle c. 0, or -errno with nothing started and a message in errs. */
int bw_lean_start(struct bw_lean *c, const struct bw_request *req, struct bw_errs *errs);
/* Starts the same request again on idle c (the formatted request is kept). */
int bw_lean_restart(struct bw_lean *c, struct bw_errs *errs);
/* Stops c if running; its on_done is called with error_class "aborted". */
void bw_lean_abort(struct bw_lean *c);
/*
 * Stops watching c's idle connection (it stays open for a later request, which finds out then if
 * the server closed it), so that the loop can end. For when no more requests are coming soon.
 */
void bw_lean_park(struct bw_lean *c);
/* Frees c and closes its connection; a running request is dropped without on_done. NULL-safe. */
void bw_lean_free(struct bw_lean *c);

#endif
