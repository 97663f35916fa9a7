#ifndef BW_URL_H
#define BW_URL_H

/*
 * URLs as they may be shown or stored. A URL can carry a password ("http://user:pass@host/");
 * only libcurl gets it. Everything that leaves the program (output, logs, the database, the
 * report, metrics) gets the redacted form.
 */

/*
 * Returns url with the password of its userinfo replaced by "***" ("http://user:***@host/path"),
 * parsed by libcurl's URL API as the transfers parse it. A URL without a password comes back
 * unchanged, byte for byte; one libcurl cannot parse has everything after the first ':' of its
 * userinfo replaced. A user name alone is kept. Pure: no I/O. The caller frees the result.
 */
char *bw_url_redact(const char *url);

/*
 * Returns text with every occurrence of url replaced by bw_url_redact(url): for messages (curl's,
 * or this program's) that quote the real URL. The caller frees the result.
 */
char *bw_url_redact_in(const char *text, const char *url);

/*
 * The server a URL names, as "host:port" with the scheme's default port filled in
 * ("https://a.example/x" -> "a.example:443"); the URL itself when libcurl cannot parse it. For
 * telling whether two tests hit the same server. The caller frees the result.
 */
char *bw_url_server(const char *url);

/*
 * ab's view of url, by libcurl's parser: the host (an IPv6 address in brackets, never the
 * userinfo), the port (the scheme's default when none is given) and the path with its query.
 * Returns 0 with the allocated strings, or -EINVAL (nothing written) when libcurl cannot parse it.
 */
int bw_url_parts(const char *url, char **ret_host, int *ret_port, char **ret_path);

#endif
