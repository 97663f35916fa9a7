#ifndef BW_TLS_H
#define BW_TLS_H

#include <stdint.h>

#include <openssl/ssl.h>

/*
 * The server's leaf certificate's notAfter on an established TLS connection, as µs since the
 * Unix epoch; 0 when there is no certificate (or its time cannot be read). Both page engines
 * read it here: the lean engine from its own SSL, libcurl's transfers from the SSL curl exposes
 * (CURLINFO_TLS_SSL_PTR).
 */
int64_t bw_tls_not_after_us(const SSL *ssl);

#endif
