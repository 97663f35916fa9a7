#ifndef BW_REPORT_MAIL_H
#define BW_REPORT_MAIL_H

#include "bw_config.h"
#include "bw_report.h"
#include "bw_smtp.h"

/*
 * The nightly report as a mail: the message composed from the report (text and HTML parts) and
 * the delivery settings of `report:`. Shared by `benchwatch report --send` and the daemon.
 */

/*
 * The whole RFC 5322 message for rep (free() it), with one PNG chart per target inline, or NULL
 * with a message in errs. A chart that cannot be drawn is left out with a message in errs, and
 * the message is still composed.
 */
char *bw_report_message(const struct bw_report *settings, const struct bw_nightly *rep,
                        int64_t now_us, struct bw_errs *errs);

/*
 * Fills *ret for delivering message with settings, reading the password file if there is one
 * (*ret_password then holds it: free() it after the delivery). 0 or -errno with errs.
 */
int bw_report_smtp(const struct bw_report *settings, const char *message, struct bw_smtp *ret,
                   char **ret_password, struct bw_errs *errs);

#endif
